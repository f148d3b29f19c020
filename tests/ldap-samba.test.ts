/**
 * The LDAP adapter's Active Directory semantics against a real Samba AD domain controller
 * (tests/helpers/samba-ad.ts): LDAPS with the CA pinned, a plain bind refused, the look-up
 * by sAMAccountName keyed by objectGUID, ACCOUNTDISABLE and accountExpires, a forgotten
 * password (unicodePwd, over LDAPS only) dated by pwdLastSet, the move to a disabled OU,
 * group removal that spares the primary group, and delete; each read back as Administrator
 * as well as by the adapter's own verify. Last, a service account holding only the rights
 * of docs/providers/ldap.md's least-privilege table does all of it, and one without them
 * is refused.
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
import {
  AD_ADMIN_DN,
  AD_ADMIN_PASSWORD,
  AD_BASE,
  addAdUser,
  sambaAvailable,
  sidOf,
  startSambaAd,
  type SambaAd,
} from './helpers/samba-ad.ts';

/** Schema GUIDs of the classes, attributes and extended right the delegation names. */
const GUID = {
  user: 'bf967aba-0de6-11d0-a285-00aa003049e2',
  group: 'bf967a9c-0de6-11d0-a285-00aa003049e2',
  userAccountControl: 'bf967a68-0de6-11d0-a285-00aa003049e2',
  accountExpires: 'bf967915-0de6-11d0-a285-00aa003049e2',
  member: 'bf9679c0-0de6-11d0-a285-00aa003049e2',
  resetPassword: '00299570-246d-11d0-a768-00aa006e0529',
  name: 'bf967a0e-0de6-11d0-a285-00aa003049e2',
  cn: 'bf96793f-0de6-11d0-a285-00aa003049e2',
};

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
    expect(first.evidence).toMatchObject({
      dn: moved,
      written: ['passwordReset', 'userAccountControl', 'accountExpires', 'moved'],
      alreadyDone: false,
    });
    const evidence = await p.actions.disable_account!.verify(account, ctx);
    expect(evidence).toMatchObject({ disabled: true, userAccountControl: '514' });
    expect(evidence.dn).toBeTypeOf('string');
    expect((evidence.dn as string).toLowerCase()).toBe(moved.toLowerCase());
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
    expect(await p.actions.remove_groups!.verify(account, ctx)).toMatchObject({
      remainingGroups: [],
      primaryGroupID: '513',
      primaryGroupKept: true,
    });
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
    expect((await p.actions.delete_account!.execute(account, { ...ctx, attempt: 2 })).evidence).toMatchObject({
      deleted: false,
      alreadyAbsent: true,
    });
  });

  it('a service account with only the delegated rights docs/providers/ldap.md lists does every action', async () => {
    const service = await addAdUser(admin, 'svc-deprovision');
    const sid = await sidOf(admin, service.dn);
    const users = `CN=Users,${AD_BASE}`;
    const disabled = `OU=Disabled Users,${AD_BASE}`;
    // Inherited by user (and group) objects below: the rights of the least-privilege table, nothing else.
    samba.grant(
      users,
      [
        `(OA;CIIO;WP;${GUID.userAccountControl};${GUID.user};${sid})`,
        `(OA;CIIO;WP;${GUID.accountExpires};${GUID.user};${sid})`,
        `(OA;CIIO;CR;${GUID.resetPassword};${GUID.user};${sid})`,
        `(OA;CIIO;SD;;${GUID.user};${sid})`,
        // A move is a rename: AD checks write on the name and RDN attributes too.
        `(OA;CIIO;WP;${GUID.name};${GUID.user};${sid})`,
        `(OA;CIIO;WP;${GUID.cn};${GUID.user};${sid})`,
        `(OA;CIIO;WP;${GUID.member};${GUID.group};${sid})`,
      ].join(''),
    );
    samba.grant(disabled, `(OA;;CC;${GUID.user};;${sid})(OA;CIIO;SD;;${GUID.user};${sid})`);
    await addAdUser(admin, 'katherine');
    const p = provider({ bindDn: service.dn, bindPassword: service.password, disable: { moveToOu: disabled, resetPassword: true } });
    const ctx = actionContext(subjectOf('katherine'));
    const account = (await p.resolve(subjectOf('katherine'), ctx))!;
    await p.actions.disable_account!.execute(account, ctx);
    expect(await p.actions.disable_account!.verify(account, ctx)).toMatchObject({ disabled: true });
    await p.actions.remove_groups!.execute(account, ctx);
    expect(await p.actions.remove_groups!.verify(account, ctx)).toMatchObject({ remainingGroups: [] });
    await p.actions.delete_account!.execute(account, ctx);
    expect(await p.actions.delete_account!.verify(account, ctx)).toMatchObject({ found: false });
    expect(await read(`CN=katherine,${disabled}`, ['cn'])).toBeUndefined();
  });

  it('without a delegated right the write is refused as permanent: insufficientAccessRights (50)', async () => {
    const bare = await addAdUser(admin, 'svc-bare');
    await addAdUser(admin, 'margaret');
    const p = provider({ bindDn: bare.dn, bindPassword: bare.password });
    const ctx = actionContext(subjectOf('margaret'));
    const account = (await p.resolve(subjectOf('margaret'), ctx))!;
    const error = await p.actions.disable_account!.execute(account, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toContain('insufficientAccessRights (50)');
  });
});
