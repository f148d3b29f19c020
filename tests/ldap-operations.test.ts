/**
 * The exact LDAP operations the adapter sends, as the emulated directory received them (the
 * LDAP counterpart of the HTTP providers' nock tests), the result-code to error mapping, and
 * the config's refusals of settings that would send the bind password in clear text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toFiletime } from '../providers/ldap/active-directory.ts';
import { createLdapProvider } from '../providers/ldap/adapter.ts';
import { ldapConfigSchema, type LdapConfigInput } from '../providers/ldap/config.ts';
import { errorForLdap } from '../providers/ldap/errors.ts';
import { ldapKind } from '../providers/ldap/kind.ts';
import { LDAP_SANDBOX_AD_BASE, LDAP_SANDBOX_OPENLDAP_BASE } from '../providers/ldap/sandbox-credentials.ts';
import type { LdapSandbox } from '../providers/ldap/sandbox.ts';
import { LdapResultError } from '../providers/ldap/session.ts';
import { PermanentError, TransientError } from '../src/domain/errors.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext, freshSubject } from './helpers/context.ts';

const NOW = new Date('2026-12-07T17:00:00.000Z');

describe('LDAP operations sent, as the emulated directory received them', () => {
  let sandbox: LdapSandbox;
  beforeAll(async () => {
    sandbox = (await ldapKind.startSandbox({ autoProvision: true })) as LdapSandbox;
  });
  afterAll(() => sandbox.close());

  const provider = (settings: Partial<LdapConfigInput>) =>
    createLdapProvider(ldapConfigSchema.parse({ ...ldapKind.sandboxConfig(sandbox), ...settings }), {
      name: 'ldap',
      logger: silentLogger(),
    });

  it('Active Directory: look-up, disable with accountExpires and move, groups, delete', async () => {
    const p = provider({ disable: { moveToOu: `OU=Disabled Users,${LDAP_SANDBOX_AD_BASE}`, resetPassword: true } });
    const subject = freshSubject('ops');
    const ctx = actionContext(subject, { now: () => NOW });
    const mark = sandbox.operations.length;
    const account = (await p.resolve(subject, ctx))!;
    const dn = account.dn as string;
    const cn = dn.split(',')[0]!;
    const moved = `${cn},OU=Disabled Users,${LDAP_SANDBOX_AD_BASE}`;
    const attributes = ['objectGUID', 'userAccountControl', 'accountExpires', 'pwdLastSet', 'sAMAccountName', 'primaryGroupID'];
    const byKey = (base = LDAP_SANDBOX_AD_BASE) => ({
      operation: 'search',
      base,
      scope: 'sub',
      filter: { equals: 'objectGUID', value: account.id, binary: true },
      attributes,
    });
    await p.actions.disable_account!.execute(account, ctx);
    await p.actions.remove_groups!.execute(account, ctx);
    await p.actions.delete_account!.execute(account, ctx);
    const groups = ['Engineering', 'VPN Users'].map((g) => `CN=${g},CN=Users,${LDAP_SANDBOX_AD_BASE}`);
    expect(sandbox.operations.slice(mark)).toEqual([
      {
        operation: 'search',
        base: LDAP_SANDBOX_AD_BASE,
        scope: 'sub',
        filter: {
          and: [
            { equals: 'objectClass', value: 'user' },
            { equals: 'mail', value: subject.emails[0] },
          ],
        },
        attributes,
      },
      byKey(),
      { operation: 'modify', dn, changes: [{ operation: 'replace', attribute: 'unicodePwd', values: '(secret)', binary: true }] },
      byKey(),
      {
        operation: 'modify',
        dn,
        changes: [
          { operation: 'replace', attribute: 'userAccountControl', values: ['514'] },
          { operation: 'replace', attribute: 'accountExpires', values: [toFiletime(NOW)] },
        ],
      },
      { operation: 'modifydn', dn, newDn: moved },
      byKey(),
      {
        operation: 'search',
        base: LDAP_SANDBOX_AD_BASE,
        scope: 'sub',
        filter: {
          and: [
            { equals: 'objectClass', value: 'group' },
            { equals: 'member', value: moved },
          ],
        },
        attributes: ['member'],
      },
      { operation: 'modify', dn: groups[0], changes: [{ operation: 'delete', attribute: 'member', values: [moved] }] },
      { operation: 'modify', dn: groups[1], changes: [{ operation: 'delete', attribute: 'member', values: [moved] }] },
      byKey(),
      { operation: 'delete', dn: moved },
    ]);
  });

  it('OpenLDAP: the lock attribute, and member and memberUid values as the groups store them', async () => {
    const p = provider({ flavor: 'openldap', baseDn: LDAP_SANDBOX_OPENLDAP_BASE, memberAttributes: ['member', 'memberUid'] });
    const subject = freshSubject('ops');
    const ctx = actionContext(subject, { now: () => NOW });
    const account = (await p.resolve(subject, ctx))!;
    const dn = account.dn as string;
    const uid = dn.split(',')[0]!.slice('uid='.length);
    const mark = sandbox.operations.length;
    await p.actions.disable_account!.execute(account, ctx);
    await p.actions.remove_groups!.execute(account, ctx);
    const byKey = {
      operation: 'search',
      base: LDAP_SANDBOX_OPENLDAP_BASE,
      scope: 'sub',
      filter: { equals: 'entryUUID', value: account.id },
      attributes: ['entryUUID', 'uid', 'pwdAccountLockedTime', 'pwdChangedTime'],
    };
    expect(sandbox.operations.slice(mark)).toEqual([
      byKey,
      { operation: 'modify', dn, changes: [{ operation: 'replace', attribute: 'pwdAccountLockedTime', values: ['000001010000Z'] }] },
      byKey,
      {
        operation: 'search',
        base: LDAP_SANDBOX_OPENLDAP_BASE,
        scope: 'sub',
        filter: {
          or: [
            { equals: 'member', value: dn },
            { equals: 'memberUid', value: uid },
          ],
        },
        attributes: ['member', 'memberUid'],
      },
      {
        operation: 'modify',
        dn: `cn=engineering,ou=groups,${LDAP_SANDBOX_OPENLDAP_BASE}`,
        changes: [{ operation: 'delete', attribute: 'member', values: [dn] }],
      },
      {
        operation: 'modify',
        dn: `cn=staff,ou=groups,${LDAP_SANDBOX_OPENLDAP_BASE}`,
        changes: [{ operation: 'delete', attribute: 'memberUid', values: [uid] }],
      },
    ]);
  });

  it('a hostile subject value travels as a filter value, and matches nothing', async () => {
    sandbox.control.autoProvision = false;
    try {
      const hostile = '*)(objectClass=*';
      const subject = { userName: hostile, emails: [hostile] };
      expect(await provider({}).resolve(subject, actionContext(subject))).toBeNull();
      expect(sandbox.operations.at(-1)).toMatchObject({
        filter: {
          and: [
            { equals: 'objectClass', value: 'user' },
            { equals: 'mail', value: hostile },
          ],
        },
      });
    } finally {
      sandbox.control.autoProvision = true;
    }
  });
});

describe('LDAP result codes become typed errors by code', () => {
  const cases: Array<[number, typeof TransientError | typeof PermanentError]> = [
    [3, TransientError], // timeLimitExceeded
    [11, TransientError], // adminLimitExceeded
    [51, TransientError], // busy
    [52, TransientError], // unavailable
    [53, TransientError], // unwillingToPerform
    [8, PermanentError], // strongAuthRequired
    [19, PermanentError], // constraintViolation
    [32, PermanentError], // noSuchObject
    [49, PermanentError], // invalidCredentials
    [50, PermanentError], // insufficientAccessRights
  ];
  for (const [code, type] of cases) {
    it(`${code} -> ${type.name}`, () => {
      const error = errorForLdap(new LdapResultError(code, 'modify'), 'disable_account');
      expect(error).toBeInstanceOf(type);
      expect(error.message).toContain(`(${code})`);
    });
  }

  it('a dropped connection is transient; a certificate the pinned CA did not sign is permanent', () => {
    expect(errorForLdap(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'search')).toBeInstanceOf(TransientError);
    expect(errorForLdap(Object.assign(new Error('self-signed'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }), 'bind')).toBeInstanceOf(
      PermanentError,
    );
  });
});

describe('LDAP config refuses to send the bind password in clear text', () => {
  const base = { bindDn: 'CN=svc,DC=corp,DC=example,DC=com', bindPassword: 'x', baseDn: 'DC=corp,DC=example,DC=com' };
  const refusal = (input: object) => {
    const result = ldapConfigSchema.safeParse({ ...base, ...input });
    return result.success ? null : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  };

  it('accepts ldaps://, and ldap:// with StartTLS', () => {
    expect(refusal({ url: 'ldaps://dc1.corp.example.com' })).toBeNull();
    expect(refusal({ url: 'ldap://dc1.corp.example.com', tls: { startTls: true } })).toBeNull();
  });

  it('refuses ldap:// without StartTLS, http:// off loopback, a CA pinned on a clear connection, and an AD password reset without encryption', () => {
    expect(refusal({ url: 'ldap://dc1.corp.example.com' })).toMatch(/^tls\.startTls: ldap:\/\/ would send the bind password in clear text/);
    expect(refusal({ url: 'http://dc1.corp.example.com:8080' })).toMatch(/^url: http:\/\/ is the sandbox transport/);
    expect(refusal({ url: 'ldap://127.0.0.1:3890', tls: { ca: 'PEM' } })).toMatch(
      /^tls\.ca: a CA is pinned but the connection is not encrypted/,
    );
    expect(refusal({ url: 'ldap://127.0.0.1:3890', disable: { resetPassword: true } })).toMatch(
      /^disable\.resetPassword: Active Directory sets passwords only over an encrypted connection/,
    );
  });

  it('refuses an attribute name that is not one', () => {
    expect(refusal({ url: 'ldaps://dc1', lookup: { attribute: 'mail)(uid=*' } })).toMatch(
      /^lookup\.attribute: expected an LDAP attribute name/,
    );
  });
});
