/**
 * The sandbox's emulated directory: two naming contexts in memory, one with Active
 * Directory's semantics (objectGUID keys, userAccountControl, accountExpires, unicodePwd
 * dated by pwdLastSet, groups' `member`, a primary group no `member` lists) and one with
 * OpenLDAP's (entryUUID keys, ppolicy's pwdAccountLockedTime and pwdChangedTime,
 * groupOfNames that may not lose their last member, posixGroup memberUid). Renames and
 * deletes update group members, as AD's linked attributes and OpenLDAP's refint overlay do.
 * Answers are LDAP result codes.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { toFiletime } from './active-directory.ts';
import { isWithin, parentDn, sameDn } from './flavor.ts';
import { LDAP_SANDBOX_AD_BASE, LDAP_SANDBOX_BIND_DN, LDAP_SANDBOX_OPENLDAP_BASE } from './sandbox-credentials.ts';
import { LDAP_RESULT, type LdapChange, type LdapEntry, type LdapFilter, type LdapSearch } from './session.ts';

interface Stored {
  dn: string;
  /** Lower-case attribute name -> values. */
  attributes: Map<string, string[]>;
}

/** Attributes whose values are DNs of other entries (renames and deletes follow them). */
const DN_VALUED = ['member', 'uniquemember'];
const BINARY = new Set(['objectguid']);
const NEVER_EXPIRES = '9223372036854775807';

export interface DirectoryResult {
  resultCode: number;
  entries?: LdapEntry[];
}
const ok = (entries?: LdapEntry[]): DirectoryResult => (entries ? { resultCode: 0, entries } : { resultCode: 0 });
const fail = (code: number): DirectoryResult => ({ resultCode: code });

function generalizedTime(date: Date): string {
  return `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

export class Directory {
  private readonly entries = new Map<string, Stored>();

  constructor() {
    const add = (dn: string, attributes: Record<string, string[]>) => this.put(dn, attributes);
    add(LDAP_SANDBOX_AD_BASE, { objectClass: ['top', 'domain', 'domainDNS'] });
    add(`CN=Users,${LDAP_SANDBOX_AD_BASE}`, { objectClass: ['top', 'container'] });
    add(`OU=Disabled Users,${LDAP_SANDBOX_AD_BASE}`, { objectClass: ['top', 'organizationalUnit'] });
    add(LDAP_SANDBOX_BIND_DN, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: ['svc-deprovisiond'] });
    // The primary group: members by primaryGroupID only, never in `member`.
    add(`CN=Domain Users,CN=Users,${LDAP_SANDBOX_AD_BASE}`, { objectClass: ['top', 'group'], primaryGroupToken: ['513'] });
    add(`CN=Engineering,CN=Users,${LDAP_SANDBOX_AD_BASE}`, { objectClass: ['top', 'group'] });
    add(`CN=VPN Users,CN=Users,${LDAP_SANDBOX_AD_BASE}`, { objectClass: ['top', 'group'] });
    add(LDAP_SANDBOX_OPENLDAP_BASE, { objectClass: ['top', 'dcObject', 'organization'] });
    add(`ou=people,${LDAP_SANDBOX_OPENLDAP_BASE}`, { objectClass: ['top', 'organizationalUnit'] });
    add(`ou=groups,${LDAP_SANDBOX_OPENLDAP_BASE}`, { objectClass: ['top', 'organizationalUnit'] });
    add(`ou=disabled,${LDAP_SANDBOX_OPENLDAP_BASE}`, { objectClass: ['top', 'organizationalUnit'] });
    // groupOfNames needs a member: the group's owner stays when a leaver goes.
    add(`cn=engineering,ou=groups,${LDAP_SANDBOX_OPENLDAP_BASE}`, {
      objectClass: ['top', 'groupOfNames'],
      member: [`cn=owner,ou=people,${LDAP_SANDBOX_OPENLDAP_BASE}`],
    });
    add(`cn=staff,ou=groups,${LDAP_SANDBOX_OPENLDAP_BASE}`, { objectClass: ['top', 'posixGroup'], gidNumber: ['5000'] });
  }

  private put(dn: string, attributes: Record<string, string[]>): Stored {
    const stored: Stored = { dn, attributes: new Map(Object.entries(attributes).map(([k, v]) => [k.toLowerCase(), [...v]])) };
    if (isWithin(dn, LDAP_SANDBOX_OPENLDAP_BASE)) stored.attributes.set('entryuuid', [randomUUID()]);
    this.entries.set(dn.toLowerCase(), stored);
    return stored;
  }

  private get(dn: string): Stored | undefined {
    return [...this.entries.values()].find((e) => sameDn(e.dn, dn));
  }

  private children(dn: string): Stored[] {
    return [...this.entries.values()].filter((e) => !sameDn(e.dn, dn) && isWithin(e.dn, dn));
  }

  private matches(entry: Stored, filter: LdapFilter): boolean {
    if ('and' in filter) return filter.and.every((f) => this.matches(entry, f));
    if ('or' in filter) return filter.or.some((f) => this.matches(entry, f));
    if ('present' in filter) return entry.attributes.has(filter.present.toLowerCase());
    const name = filter.equals.toLowerCase();
    const stored = entry.attributes.get(name) ?? [];
    if (filter.binary || BINARY.has(name)) return stored.includes(filter.value);
    if (DN_VALUED.includes(name)) return stored.some((v) => sameDn(v, filter.value));
    return stored.some((v) => v.toLowerCase() === filter.value.toLowerCase());
  }

  search(request: LdapSearch): DirectoryResult {
    if (!this.get(request.base)) return fail(LDAP_RESULT.noSuchObject);
    const wanted = request.attributes.map((a) => a.toLowerCase());
    const found = [...this.entries.values()]
      .filter((e) => (request.scope === 'base' ? sameDn(e.dn, request.base) : isWithin(e.dn, request.base)))
      .filter((e) => this.matches(e, request.filter));
    return ok(
      found.map((e) => ({
        dn: e.dn,
        attributes: Object.fromEntries(wanted.filter((a) => e.attributes.has(a)).map((a) => [a, [...e.attributes.get(a)!]])),
      })),
    );
  }

  /** Creates an active account for a look-up that found none (autoProvision), with two groups. */
  provision(request: LdapSearch): boolean {
    const clauses = 'and' in request.filter ? request.filter.and : [];
    const byClass = clauses.find((c): c is { equals: string; value: string } => 'equals' in c && c.equals.toLowerCase() === 'objectclass');
    const byValue = clauses.find((c): c is { equals: string; value: string } => 'equals' in c && c.equals.toLowerCase() !== 'objectclass');
    if (!byClass || !byValue) return false;
    const local = byValue.value.split('@')[0]!.replace(/[^A-Za-z0-9._-]/g, '') || `user${randomBytes(3).toString('hex')}`;
    const unique = `${local}-${randomBytes(2).toString('hex')}`;
    if (isWithin(request.base, LDAP_SANDBOX_AD_BASE) && byClass.value.toLowerCase() === 'user') {
      const dn = `CN=${unique},CN=Users,${LDAP_SANDBOX_AD_BASE}`;
      this.put(dn, {
        objectClass: ['top', 'person', 'organizationalPerson', 'user'],
        objectGUID: [randomBytes(16).toString('base64')],
        sAMAccountName: [local],
        userPrincipalName: [`${local}@corp.example.com`],
        mail: [`${local}@example.com`],
        [byValue.equals]: [byValue.value],
        userAccountControl: ['512'],
        accountExpires: [NEVER_EXPIRES],
        pwdLastSet: [toFiletime(new Date(Date.now() - 90 * 86_400_000))],
        primaryGroupID: ['513'],
      });
      for (const group of ['Engineering', 'VPN Users']) this.addValue(`CN=${group},CN=Users,${LDAP_SANDBOX_AD_BASE}`, 'member', dn);
      return true;
    }
    if (isWithin(request.base, LDAP_SANDBOX_OPENLDAP_BASE) && byClass.value.toLowerCase() === 'person') {
      const dn = `uid=${unique},ou=people,${LDAP_SANDBOX_OPENLDAP_BASE}`;
      this.put(dn, {
        objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
        uid: [unique],
        cn: [local],
        sn: [local],
        mail: [`${local}@example.org`],
        [byValue.equals]: [byValue.value],
      });
      this.addValue(`cn=engineering,ou=groups,${LDAP_SANDBOX_OPENLDAP_BASE}`, 'member', dn);
      this.addValue(`cn=staff,ou=groups,${LDAP_SANDBOX_OPENLDAP_BASE}`, 'memberUid', unique);
      return true;
    }
    return false;
  }

  private addValue(dn: string, attribute: string, value: string): void {
    const entry = this.get(dn)!;
    const name = attribute.toLowerCase();
    entry.attributes.set(name, [...(entry.attributes.get(name) ?? []), value]);
  }

  modify(dn: string, changes: LdapChange[]): DirectoryResult {
    const entry = this.get(dn);
    if (!entry) return fail(LDAP_RESULT.noSuchObject);
    // Checked on a copy and applied whole: an LDAP modify is atomic.
    const next = new Map([...entry.attributes].map(([k, v]) => [k, [...v]]));
    const now = new Date();
    for (const change of changes) {
      const name = change.attribute.toLowerCase();
      if (name === 'unicodepwd') {
        if (change.operation !== 'replace' || !isWithin(dn, LDAP_SANDBOX_AD_BASE)) return fail(LDAP_RESULT.unwillingToPerform);
        // Not stored: AD never returns a password. Its date is what can be read.
        next.set('pwdlastset', [toFiletime(now)]);
        continue;
      }
      if (name === 'pwdaccountlockedtime' && !change.values.every((v) => /^\d{12,14}Z$/.test(v))) return fail(21);
      const current = next.get(name) ?? [];
      const same = (a: string, b: string) => (DN_VALUED.includes(name) ? sameDn(a, b) : a === b);
      if (change.operation === 'replace') {
        if (change.values.length) next.set(name, [...change.values]);
        else next.delete(name);
      } else if (change.operation === 'add') {
        if (change.values.some((v) => current.some((c) => same(c, v)))) return fail(LDAP_RESULT.attributeOrValueExists);
        next.set(name, [...current, ...change.values]);
      } else {
        if (!next.has(name) || change.values.some((v) => !current.some((c) => same(c, v)))) return fail(LDAP_RESULT.noSuchAttribute);
        const left = change.values.length ? current.filter((c) => !change.values.some((v) => same(c, v))) : [];
        if (left.length) next.set(name, left);
        else next.delete(name);
      }
      if (name === 'userpassword') {
        // ppolicy dates the change and lifts a lock (slapd 2.5 does both).
        next.set('pwdchangedtime', [generalizedTime(now)]);
        next.delete('pwdaccountlockedtime');
      }
    }
    if ((entry.attributes.get('objectclass') ?? []).includes('groupOfNames') && !next.has('member'))
      return fail(LDAP_RESULT.objectClassViolation);
    entry.attributes = next;
    return ok();
  }

  modifyDn(dn: string, newDn: string): DirectoryResult {
    const entry = this.get(dn);
    if (!entry) return fail(LDAP_RESULT.noSuchObject);
    if (!this.get(parentDn(newDn))) return fail(LDAP_RESULT.noSuchObject);
    if (this.get(newDn)) return fail(LDAP_RESULT.entryAlreadyExists);
    if (this.children(dn).length) return fail(LDAP_RESULT.notAllowedOnNonLeaf);
    this.entries.delete(entry.dn.toLowerCase());
    entry.dn = newDn;
    this.entries.set(newDn.toLowerCase(), entry);
    this.rewriteReferences(dn, newDn);
    return ok();
  }

  delete(dn: string): DirectoryResult {
    const entry = this.get(dn);
    if (!entry) return fail(LDAP_RESULT.noSuchObject);
    if (this.children(dn).length) return fail(LDAP_RESULT.notAllowedOnNonLeaf);
    this.entries.delete(entry.dn.toLowerCase());
    this.rewriteReferences(dn, null);
    return ok();
  }

  /** DN-valued members follow a rename and go with a delete. */
  private rewriteReferences(from: string, to: string | null): void {
    for (const other of this.entries.values()) {
      for (const name of DN_VALUED) {
        const list = other.attributes.get(name);
        if (!list?.some((v) => sameDn(v, from))) continue;
        const next = list.flatMap((v) => (sameDn(v, from) ? (to ? [to] : []) : [v]));
        if (next.length) other.attributes.set(name, next);
        else other.attributes.delete(name);
      }
    }
  }
}
