/**
 * Active Directory (and Samba AD): disabled is the ACCOUNTDISABLE bit (2) of
 * userAccountControl, optionally with accountExpires set to now; passwords are written to
 * unicodePwd (UTF-16LE, quoted) and dated by pwdLastSet; memberships are the `member`
 * values of groups. The primary group (primaryGroupID, usually Domain Users) is not listed
 * in any `member`, so it is spared: AD refuses to remove an account from it.
 */
import type { Flavor } from './flavor.ts';
import { values } from './session.ts';

export const ACCOUNTDISABLE = 2;
/** accountExpires' "never" values. */
const NEVER = new Set(['0', '9223372036854775807']);
/** 100-ns intervals between 1601-01-01 and 1970-01-01. */
const EPOCH_AS_FILETIME = 116_444_736_000_000_000n;

export function toFiletime(date: Date): string {
  return (BigInt(date.getTime()) * 10_000n + EPOCH_AS_FILETIME).toString();
}

export function fromFiletime(value: string | undefined): Date | null {
  if (!value || !/^\d{1,20}$/.test(value) || NEVER.has(value)) return null;
  return new Date(Number((BigInt(value) - EPOCH_AS_FILETIME) / 10_000n));
}

function userAccountControl(entry: Parameters<Flavor['notDisabled']>[0]): number {
  const raw = values(entry, 'userAccountControl')[0];
  return raw && /^-?\d{1,10}$/.test(raw) ? Number(raw) : 0;
}

function expired(entry: Parameters<Flavor['notDisabled']>[0], now: Date): boolean {
  const at = fromFiletime(values(entry, 'accountExpires')[0]);
  return at !== null && at.getTime() <= now.getTime();
}

export const activeDirectory: Flavor = {
  userClass: 'user',
  keyAttribute: 'objectGUID',
  keyBinary: true,
  accountAttributes: () => ['objectGUID', 'userAccountControl', 'accountExpires', 'pwdLastSet', 'sAMAccountName', 'primaryGroupID'],
  disabledBy: (config) => ['userAccountControl', ...(config.disable.setAccountExpires ? ['accountExpires'] : [])],
  disableChanges(entry, config, now) {
    const uac = userAccountControl(entry);
    const changes: ReturnType<Flavor['disableChanges']> = [];
    if ((uac & ACCOUNTDISABLE) === 0)
      changes.push({ operation: 'replace', attribute: 'userAccountControl', values: [String(uac | ACCOUNTDISABLE)] });
    if (config.disable.setAccountExpires && !expired(entry, now))
      changes.push({ operation: 'replace', attribute: 'accountExpires', values: [toFiletime(now)] });
    return changes;
  },
  notDisabled(entry, config, now) {
    const problems: string[] = [];
    if ((userAccountControl(entry) & ACCOUNTDISABLE) === 0)
      problems.push(`userAccountControl=${userAccountControl(entry)} lacks ACCOUNTDISABLE`);
    if (config.disable.setAccountExpires && !expired(entry, now)) problems.push('accountExpires is not in the past');
    return problems;
  },
  passwordChange: (password) => ({
    operation: 'replace',
    attribute: 'unicodePwd',
    values: [Buffer.from(`"${password}"`, 'utf16le').toString('base64')],
    binary: true,
  }),
  passwordSetAt: (entry) => fromFiletime(values(entry, 'pwdLastSet')[0]),
  groupFilter: (entry) => ({
    and: [
      { equals: 'objectClass', value: 'group' },
      { equals: 'member', value: entry.dn },
    ],
  }),
  memberAttributes: () => ['member'],
  leaveGroup: (_group, entry) => [{ operation: 'delete', attribute: 'member', values: [entry.dn] }],
};
