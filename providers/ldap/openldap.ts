/**
 * A generic LDAP server such as OpenLDAP: disabled is a configured lock attribute (by
 * default ppolicy's pwdAccountLockedTime, whose value 000001010000Z locks until an
 * administrator unlocks); passwords are written to userPassword as a salted SHA-1 hash, so
 * the directory never holds the random password itself, and are dated by ppolicy's
 * pwdChangedTime; memberships are DN-valued `member`/`uniqueMember` or uid-valued
 * `memberUid` values, as configured.
 */
import { createHash, randomBytes } from 'node:crypto';
import { sameDn, type Flavor } from './flavor.ts';
import { values, type LdapEntry, type LdapFilter } from './session.ts';

/** RFC 4517 GeneralizedTime as ppolicy writes it: 20261207170000Z. */
export function fromGeneralizedTime(value: string | undefined): Date | null {
  const m = value ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.\d+)?Z$/.exec(value) : null;
  return m ? new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +(m[6] ?? 0))) : null;
}

function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

function memberValue(attribute: string, entry: LdapEntry): string | null {
  return attribute === 'memberUid' ? (values(entry, 'uid')[0] ?? null) : entry.dn;
}

export const openLdap: Flavor = {
  userClass: 'person',
  keyAttribute: 'entryUUID',
  keyBinary: false,
  // Operational attributes (entryUUID, ppolicy's) are returned only when named.
  accountAttributes: (config) => ['entryUUID', 'uid', config.disable.lockAttribute, 'pwdChangedTime'],
  disabledBy: (config) => [config.disable.lockAttribute],
  disableChanges(entry, config) {
    if (values(entry, config.disable.lockAttribute).includes(config.disable.lockValue)) return [];
    return [{ operation: 'replace', attribute: config.disable.lockAttribute, values: [config.disable.lockValue] }];
  },
  notDisabled(entry, config) {
    const found = values(entry, config.disable.lockAttribute);
    return found.includes(config.disable.lockValue)
      ? []
      : [`${config.disable.lockAttribute} is ${found.length ? found.join(',') : 'absent'}, not ${config.disable.lockValue}`];
  },
  passwordChange: (password) => ({ operation: 'replace', attribute: 'userPassword', values: [ssha(password)] }),
  passwordSetAt: (entry) => fromGeneralizedTime(values(entry, 'pwdChangedTime')[0]),
  groupFilter(entry, config) {
    const clauses: LdapFilter[] = [];
    for (const attribute of config.memberAttributes) {
      const value = memberValue(attribute, entry);
      if (value !== null) clauses.push({ equals: attribute, value });
    }
    return { or: clauses };
  },
  memberAttributes: (config) => config.memberAttributes,
  leaveGroup(group, entry, config) {
    return config.memberAttributes.flatMap((attribute) => {
      const mine = memberValue(attribute, entry);
      if (mine === null) return [];
      // Delete the value as the group stores it: DNs match case-insensitively, uids exactly.
      const stored = values(group, attribute).filter((v) => (attribute === 'memberUid' ? v === mine : sameDn(v, mine)));
      return stored.length ? [{ operation: 'delete' as const, attribute, values: stored }] : [];
    });
  },
};
