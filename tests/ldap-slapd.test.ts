/**
 * The LDAP adapter against a real OpenLDAP slapd (tests/helpers/slapd.ts): StartTLS and
 * LDAPS with the CA pinned, look-ups whose hostile values stay values, ppolicy's lock, a
 * forgotten random password, a move to the disabled OU, removal from member, uniqueMember
 * and memberUid groups, and delete; each read back through the root DN as well as by the
 * adapter's own verify.
 */
import type { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLdapProvider } from '../providers/ldap/adapter.ts';
import { ldapConfigSchema, type LdapConfigInput } from '../providers/ldap/config.ts';
import type { Provider } from '../providers/contract.ts';
import { PermanentError } from '../src/domain/errors.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';
import { canBind as canBindAs, readEntry } from './helpers/directory-server.ts';
import {
  addPerson,
  SLAPD_BASE,
  SLAPD_SERVICE_DN,
  SLAPD_SERVICE_PASSWORD,
  slapdAvailable,
  startSlapd,
  type Slapd,
} from './helpers/slapd.ts';

const available = slapdAvailable();

describe.skipIf(!available)('LDAP adapter against a real slapd', () => {
  let slapd: Slapd;
  let admin: Client;
  const providers: Provider[] = [];

  function provider(overrides: Partial<LdapConfigInput> = {}): Provider {
    const config = ldapConfigSchema.parse({
      url: slapd.url,
      tls: { startTls: true, ca: slapd.ca },
      bindDn: SLAPD_SERVICE_DN,
      bindPassword: SLAPD_SERVICE_PASSWORD,
      baseDn: `ou=people,${SLAPD_BASE}`,
      groupsBaseDn: `ou=groups,${SLAPD_BASE}`,
      flavor: 'openldap',
      ...overrides,
    });
    const created = createLdapProvider(config, { name: 'slapd', logger: silentLogger() });
    providers.push(created);
    return created;
  }

  const subjectOf = (mail: string) => ({ userName: mail, emails: [mail], displayName: mail });

  const read = (dn: string, attributes: string[]) => readEntry(admin, dn, attributes);
  const canBind = (dn: string, password: string) => canBindAs(slapd.url, dn, password);

  beforeAll(async () => {
    slapd = await startSlapd();
    admin = await slapd.admin();
  }, 60_000);

  afterAll(async () => {
    for (const p of providers) await p.close?.();
    await admin?.unbind();
    await slapd?.stop();
  });

  it('validates over StartTLS with the CA pinned, and refuses a wrong password as permanent without echoing it', async () => {
    const ctx = { signal: new AbortController().signal, logger: silentLogger() };
    await provider().validate!(ctx);
    const error = await provider({ bindPassword: 'wrong-password-9f8e' }).validate!(ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toContain('invalidCredentials (49)');
    expect((error as Error).message).not.toContain('wrong-password-9f8e');
  });

  it('connects over LDAPS with the pinned CA, and refuses a server its pinned CA did not sign as permanent', async () => {
    const ctx = { signal: new AbortController().signal, logger: silentLogger() };
    await provider({ url: slapd.ldapsUrl, tls: { ca: slapd.ca } }).validate!(ctx);
    // No CA pinned: the system's list, which did not sign the throwaway CA.
    const error = await provider({ url: slapd.ldapsUrl, tls: {} }).validate!(ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/certificate was refused/);
  });

  it('finds the account by mail, keyed by entryUUID; a filter-shaped value matches nothing', async () => {
    const person = await addPerson(admin, 'grace');
    const p = provider();
    const account = await p.resolve(subjectOf(person.mail), actionContext(subjectOf(person.mail)));
    expect(account).toMatchObject({ dn: person.dn });
    expect(account!.id).toMatch(/^[0-9a-f-]{36}$/);
    for (const hostile of ['*', `${person.mail})(mail=*`, '*)(|(objectClass=*']) {
      expect(await p.resolve(subjectOf(hostile), actionContext(subjectOf(hostile)))).toBeNull();
    }
  });

  it('disable_account locks with ppolicy, forgets a new random password, moves the entry, and reads it all back', async () => {
    const person = await addPerson(admin, 'alan');
    const p = provider({ disable: { resetPassword: true, moveToOu: `ou=disabled,${SLAPD_BASE}` } });
    const ctx = actionContext(subjectOf(person.mail));
    const account = (await p.resolve(subjectOf(person.mail), ctx))!;
    expect(await canBind(person.dn, `initial-${person.uid}`)).toBe(true);
    const first = await p.actions.disable_account!.execute(account, ctx);
    const moved = `uid=${person.uid},ou=disabled,${SLAPD_BASE}`;
    expect(first.evidence).toMatchObject({ dn: moved, written: ['passwordReset', 'pwdAccountLockedTime', 'moved'], alreadyDone: false });
    const evidence = await p.actions.disable_account!.verify(account, ctx);
    expect(evidence).toMatchObject({ dn: moved, pwdAccountLockedTime: '000001010000Z', disabled: true });
    const entry = await read(moved, ['pwdAccountLockedTime', 'userPassword', 'pwdChangedTime']);
    expect(entry?.pwdAccountLockedTime).toBe('000001010000Z');
    expect(String(entry?.userPassword)).toMatch(/^\{SSHA\}/);
    expect(await read(person.dn, ['uid'])).toBeUndefined();
    expect(await canBind(moved, `initial-${person.uid}`)).toBe(false);
    // A repeat sets another password, which makes ppolicy lift the lock: the adapter reads again and locks again.
    const again = await p.actions.disable_account!.execute(account, { ...ctx, attempt: 2 });
    expect(again.evidence).toMatchObject({ dn: moved, written: ['passwordReset', 'pwdAccountLockedTime'], alreadyDone: false });
    expect(await p.actions.disable_account!.verify(account, { ...ctx, attempt: 2 })).toMatchObject({
      disabled: true,
      pwdAccountLockedTime: '000001010000Z',
    });
    expect((await read(moved, ['pwdAccountLockedTime']))?.pwdAccountLockedTime).toBe('000001010000Z');
  });

  // ppolicy honours pwdAccountLockedTime only under a policy with pwdLockout: TRUE (docs/providers/ldap.md).
  it('the lock alone stops the old password (no reset)', async () => {
    const person = await addPerson(admin, 'edsger');
    const p = provider();
    const ctx = actionContext(subjectOf(person.mail));
    const account = (await p.resolve(subjectOf(person.mail), ctx))!;
    await p.actions.disable_account!.execute(account, ctx);
    await p.actions.disable_account!.verify(account, ctx);
    expect(await canBind(person.dn, `initial-${person.uid}`)).toBe(false);
  });

  it('remove_groups takes the account out of member, uniqueMember and memberUid groups, and the owner stays', async () => {
    const person = await addPerson(admin, 'barbara');
    const p = provider();
    const ctx = actionContext(subjectOf(person.mail));
    const account = (await p.resolve(subjectOf(person.mail), ctx))!;
    const result = await p.actions.remove_groups!.execute(account, ctx);
    expect((result.evidence.groupsRemoved as string[]).sort()).toEqual(
      [
        `cn=admins-barbara,ou=groups,${SLAPD_BASE}`,
        `cn=eng-barbara,ou=groups,${SLAPD_BASE}`,
        `cn=staff-barbara,ou=groups,${SLAPD_BASE}`,
      ].sort(),
    );
    expect(await p.actions.remove_groups!.verify(account, ctx)).toMatchObject({ remainingGroups: [] });
    expect((await read(`cn=eng-barbara,ou=groups,${SLAPD_BASE}`, ['member']))?.member).toBe(`cn=owner,ou=people,${SLAPD_BASE}`);
    expect((await read(`cn=admins-barbara,ou=groups,${SLAPD_BASE}`, ['uniqueMember']))?.uniqueMember).toBe(
      `cn=owner,ou=people,${SLAPD_BASE}`,
    );
    expect((await read(`cn=staff-barbara,ou=groups,${SLAPD_BASE}`, ['memberUid']))?.memberUid).toBe('owner');
    expect((await p.actions.remove_groups!.execute(account, ctx)).evidence).toMatchObject({ groupsRemoved: [], alreadyDone: true });
  });

  it('delete_account deletes the entry, reads it gone, and a repeat finds it absent', async () => {
    const person = await addPerson(admin, 'donald');
    const p = provider();
    const ctx = actionContext(subjectOf(person.mail));
    const account = (await p.resolve(subjectOf(person.mail), ctx))!;
    expect((await p.actions.delete_account!.execute(account, ctx)).evidence).toMatchObject({ dn: person.dn, deleted: true });
    expect(await p.actions.delete_account!.verify(account, ctx)).toMatchObject({ found: false });
    expect(await read(person.dn, ['uid'])).toBeUndefined();
    expect((await p.actions.delete_account!.execute(account, { ...ctx, attempt: 2 })).evidence).toMatchObject({
      deleted: false,
      alreadyAbsent: true,
    });
  });
});
