/**
 * Drift in a directory (issue 30): what an administrator's direct LDAP modify does after an
 * offboarding, behind the adapter's back. A directory has no control API; these helpers
 * write through an `LdapSession` of their own (ldapts against slapd or Samba, the emulated
 * directory's transport against the sandbox), never through the adapter under test.
 */
import { ACCOUNTDISABLE, activeDirectory } from '../../providers/ldap/active-directory.ts';
import { createLdapSession } from '../../providers/ldap/adapter.ts';
import type { LdapConfig } from '../../providers/ldap/config.ts';
import { openLdap } from '../../providers/ldap/openldap.ts';
import { values, type LdapEntry } from '../../providers/ldap/session.ts';
import type { AccountRef } from '../../providers/contract.ts';

/** AD's accountExpires "never". */
const NEVER_EXPIRES = '9223372036854775807';

/** The account's entry as it is now (it may have moved), found by the key the adapter keeps, read on a connection of its own. */
export async function accountEntry(config: LdapConfig, account: AccountRef, attributes: string[]): Promise<LdapEntry> {
  const flavor = config.flavor === 'active_directory' ? activeDirectory : openLdap;
  const session = createLdapSession(config, {});
  try {
    const [entry] = await session.search({
      base: config.baseDn,
      scope: 'sub',
      filter: { equals: flavor.keyAttribute, value: account.id, ...(flavor.keyBinary ? { binary: true } : {}) },
      attributes,
    });
    if (!entry) throw new Error(`no entry holds ${flavor.keyAttribute} ${account.id} under ${config.baseDn}`);
    return entry;
  } finally {
    await session.close();
  }
}

/**
 * The account enabled again: AD's ACCOUNTDISABLE bit cleared and accountExpires set to
 * never (what re-enabling in the console does); OpenLDAP's lock attribute deleted.
 */
export async function reEnableAccount(config: LdapConfig, account: AccountRef): Promise<void> {
  const ad = config.flavor === 'active_directory';
  const entry = await accountEntry(config, account, ad ? ['userAccountControl'] : [config.disable.lockAttribute]);
  const session = createLdapSession(config, {});
  try {
    if (ad) {
      const uac = Number(values(entry, 'userAccountControl')[0] ?? '512');
      await session.modify(entry.dn, [
        { operation: 'replace', attribute: 'userAccountControl', values: [String(uac & ~ACCOUNTDISABLE)] },
        { operation: 'replace', attribute: 'accountExpires', values: [NEVER_EXPIRES] },
      ]);
    } else {
      await session.modify(entry.dn, [{ operation: 'delete', attribute: config.disable.lockAttribute, values: [] }]);
    }
  } finally {
    await session.close();
  }
}

/** The account listed in a group again, by DN in `member` (the attribute AD and groupOfNames share). */
export async function reAddMember(config: LdapConfig, account: AccountRef, groupDn: string): Promise<void> {
  const entry = await accountEntry(config, account, ['objectClass']);
  const session = createLdapSession(config, {});
  try {
    await session.modify(groupDn, [{ operation: 'add', attribute: 'member', values: [entry.dn] }]);
  } finally {
    await session.close();
  }
}
