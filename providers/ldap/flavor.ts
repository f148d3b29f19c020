/**
 * What differs between Active Directory and a generic LDAP server, behind one shape the
 * adapter drives: how an account is keyed, how it is disabled and shown disabled, how a
 * password is written and when it was last set, and how group memberships are listed.
 */
import { randomBytes } from 'node:crypto';
import type { LdapConfig } from './config.ts';
import type { LdapChange, LdapEntry, LdapFilter } from './session.ts';

export interface Flavor {
  /** The object class of accounts (a filter clause of every look-up). */
  readonly userClass: string;
  /** The attribute whose value never changes, even when the entry moves (the account's id). */
  readonly keyAttribute: string;
  readonly keyBinary: boolean;
  /** Attributes to read for disabling and checking. */
  accountAttributes(config: LdapConfig): string[];
  /** The attributes that show the account disabled (the verify evidence). */
  disabledBy(config: LdapConfig): string[];
  /** The changes that disable the account, none when it is already disabled. */
  disableChanges(entry: LdapEntry, config: LdapConfig, now: Date): LdapChange[];
  /** What the entry shows that is not disabled yet; empty when it is. */
  notDisabled(entry: LdapEntry, config: LdapConfig, now: Date): string[];
  /** The change that sets `password` (the caller forgets it). */
  passwordChange(password: string): LdapChange;
  /** When the directory says the password was last set, if it says. */
  passwordSetAt(entry: LdapEntry): Date | null;
  /** The groups listing the account as a member. */
  groupFilter(entry: LdapEntry, config: LdapConfig): LdapFilter;
  /** The attributes of a group that may list the account. */
  memberAttributes(config: LdapConfig): string[];
  /** The changes that take the account out of one group. */
  leaveGroup(group: LdapEntry, entry: LdapEntry, config: LdapConfig): LdapChange[];
}

/**
 * A password nobody knows: 192 random bits, plus one character of each class so that a
 * complexity policy (AD's default) accepts it.
 */
export function randomPassword(): string {
  return `${randomBytes(24).toString('base64url')}aA1!`;
}

/** DNs compare case-insensitively and without spaces around separators. */
function normalDn(dn: string): string {
  return dn.replace(/\s*([,=])\s*/g, '$1').toLowerCase();
}

export function sameDn(a: string, b: string): boolean {
  return normalDn(a) === normalDn(b);
}

/** `dn` is `base` or an entry below it. */
export function isWithin(dn: string, base: string): boolean {
  const [d, b] = [normalDn(dn), normalDn(base)];
  return d === b || d.endsWith(`,${b}`);
}

/** The DN without its first RDN (escaped commas in the RDN respected). */
export function parentDn(dn: string): string {
  const match = /^(?:[^,\\]|\\.)*,(.*)$/s.exec(dn);
  return match?.[1]?.trim() ?? '';
}

export function firstRdn(dn: string): string {
  return dn.slice(0, dn.length - parentDn(dn).length).replace(/,\s*$/, '');
}
