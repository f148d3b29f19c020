/**
 * The LDAP adapter's Active Directory semantics against a real Samba AD domain controller
 * (tests/helpers/samba-ad.ts): LDAPS with the CA pinned, a plain bind refused, the look-up
 * by sAMAccountName keyed by objectGUID, ACCOUNTDISABLE and accountExpires, a forgotten
 * password (unicodePwd, over LDAPS only) dated by pwdLastSet, the move to a disabled OU,
 * group removal that spares the primary group, and delete; each read back as Administrator
 * as well as by the adapter's own verify.
 */
import type { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromFiletime } from '../providers/ldap/active-directory.ts';
import { createLdapProvider } from '../providers/ldap/adapter.ts';
import { ldapConfigSchema, type LdapConfigInput } from '../providers/ldap/config.ts';
import type { Provider } from '../providers/contract.ts';
import { PermanentError } from '../src/domain/errors.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';
import { canBind as canBindAs, readEntry } from './helpers/directory-server.ts';
import { AD_ADMIN_DN, AD_ADMIN_PASSWORD, AD_BASE, addAdUser, sambaAvailable, startSambaAd, type SambaAd } from './helpers/samba-ad.ts';

const available = sambaAvailable();

describe.skipIf(!available)('LDAP adapter against a real Samba Active Directory', () => {
  let samba: SambaAd;
  let admin: Client;
  const providers: Provider[] = [];

  function provider(overrides: Partial<LdapConfigInput> = {}): Provider {
    const config = ldapConfigSchema.parse({
      url: samba.ldapsUrl,
      tls: { ca: samba.ca },
      bindDn: AD_ADMIN_DN,
      bindPassword: AD_ADMIN_PASSWORD,
      baseDn: `CN=Users,${AD_BASE}`,
      flavor: 'active_directory',
      lookup: { attribute: 'sAMAccountName', from: 'userNameLocalPart' },
      ...overrides,
    });
    const created = createLdapProvider(config, { name: 'samba', logger: silentLogger() });
    providers.push(created);
    return created;
  }

  const subjectOf = (name: string) => ({ userName: `${name}@corp.example.com`, emails: [`${name}@example.com`], displayName: name });

  const read = (dn: string, attributes: string[]) => readEntry(admin, dn, attributes);
  const canBind = (dn: string, password: string) => canBindAs(samba.ldapsUrl, dn, password, { ca: [samba.ca] });

  beforeAll(async () => {
    samba = await startSambaAd();
    admin = await samba.admin();
  }, 240_000);

  afterAll(async () => {
    for (const p of providers) await p.close?.();
    await admin?.unbind();
    await samba?.stop();
  });

  it('validates over LDAPS with the CA pinned; a wrong password and a bind in clear text are refused as permanent', async () => {
    const ctx = { signal: new AbortController().signal, logger: silentLogger() };
    await provider().validate!(ctx);
    const wrong = await provider({ bindPassword: 'Wrong-Passw0rd-77' }).validate!(ctx).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(PermanentError);
    expect((wrong as Error).message).toContain('invalidCredentials (49)');
    expect((wrong as Error).message).not.toContain('Wrong-Passw0rd-77');
    // ldap:// without StartTLS is allowed by the schema on loopback only; AD refuses the simple bind itself.
    const clear = await provider({ url: samba.ldapUrl, tls: {} }).validate!(ctx).catch((e: unknown) => e);
    expect(clear).toBeInstanceOf(PermanentError);
    expect((clear as Error).message).toContain('strongAuthRequired (8)');
  });

  it('finds the account by sAMAccountName, keyed by objectGUID; a filter-shaped value matches nothing', async () => {
    const user = await addAdUser(admin, 'grace');
    const p = provider();
    const account = await p.resolve(subjectOf('grace'), actionContext(subjectOf('grace')));
    expect(account).toMatchObject({ dn: user.dn });
    expect(Buffer.from(account!.id, 'base64')).toHaveLength(16);
    for (const hostile of ['*', 'grace)(sAMAccountName=*', '*)(|(objectClass=*']) {
      expect(await p.resolve(subjectOf(hostile), actionContext(subjectOf(hostile)))).toBeNull();
    }
  });

  it('disable_account sets ACCOUNTDISABLE and accountExpires, forgets a new password, moves the entry, and reads it back', async () => {
    const user = await addAdUser(admin, 'alan');
    const p = provider({ disable: { moveToOu: `OU=Disabled Users,${AD_BASE}`, resetPassword: true } });
    const ctx = actionContext(subjectOf('alan'));
    const account = (await p.resolve(subjectOf('alan'), ctx))!;
    expect(await canBind(user.dn, user.password)).toBe(true);
    const before = (await read(user.dn, ['pwdLastSet']))!.pwdLastSet as string;
    const first = await p.actions.disable_account!.execute(account, ctx);
    const moved = `CN=alan,OU=Disabled Users,${AD_BASE}`;
    expect(first.evidence).toMatchObject({ dn: moved, written: ['passwordReset', 'userAccountControl', 'accountExpires', 'moved'], alreadyDone: false });
    const evidence = await p.actions.disable_account!.verify(account, ctx);
    expect(evidence).toMatchObject({ disabled: true, userAccountControl: '514' });
    expect(String(evidence.dn).toLowerCase()).toBe(moved.toLowerCase());
    const entry = (await read(moved, ['userAccountControl', 'accountExpires', 'pwdLastSet']))!;
    expect(Number(entry.userAccountControl) & 2).toBe(2);
    expect(fromFiletime(entry.accountExpires as string)!.getTime()).toBeLessThanOrEqual(Date.now());
    expect(BigInt(entry.pwdLastSet as string)).toBeGreaterThan(BigInt(before));
    expect(await read(user.dn, ['cn'])).toBeUndefined();
    expect(await canBind(moved, user.password)).toBe(false);
    const again = await p.actions.disable_account!.execute(account, { ...ctx, attempt: 2 });
    expect(again.evidence).toMatchObject({ written: ['passwordReset'], alreadyDone: true });
  });

  it('remove_groups takes the account out of every group that lists it and spares the primary group', async () => {
    const user = await addAdUser(admin, 'barbara');
    const p = provider();
    const ctx = actionContext(subjectOf('barbara'));
    const account = (await p.resolve(subjectOf('barbara'), ctx))!;
    const result = await p.actions.remove_groups!.execute(account, ctx);
    expect((result.evidence.groupsRemoved as string[]).map((g) => g.toLowerCase()).sort()).toEqual(
      [`CN=barbara-engineering,CN=Users,${AD_BASE}`, `CN=barbara-vpn,CN=Users,${AD_BASE}`].map((g) => g.toLowerCase()).sort(),
    );
    expect(await p.actions.remove_groups!.verify(account, ctx)).toMatchObject({ remainingGroups: [], primaryGroupID: '513', primaryGroupKept: true });
    const entry = (await read(user.dn, ['memberOf', 'primaryGroupID']))!;
    expect(entry.memberOf ?? []).toEqual([]);
    expect(entry.primaryGroupID).toBe('513');
    expect((await p.actions.remove_groups!.execute(account, ctx)).evidence).toMatchObject({ groupsRemoved: [], alreadyDone: true });
  });

  it('delete_account deletes the entry, reads it gone, and a repeat finds it absent', async () => {
    const user = await addAdUser(admin, 'donald');
    const p = provider();
    const ctx = actionContext(subjectOf('donald'));
    const account = (await p.resolve(subjectOf('donald'), ctx))!;
    expect((await p.actions.delete_account!.execute(account, ctx)).evidence).toMatchObject({ deleted: true });
    expect(await p.actions.delete_account!.verify(account, ctx)).toMatchObject({ found: false });
    expect(await read(user.dn, ['cn'])).toBeUndefined();
    expect((await p.actions.delete_account!.execute(account, { ...ctx, attempt: 2 })).evidence).toMatchObject({ deleted: false, alreadyAbsent: true });
  });
});
