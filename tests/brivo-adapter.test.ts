/**
 * The Brivo adapter against the Brivo emulator: a badge is deactivated once (suspend +
 * every credential unassigned, proven by the write counters), a second run changes
 * nothing, the gateway's api-key check and token renewal work, and lookups refuse
 * ambiguous or unsafe values.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Provider } from '../providers/contract.ts';
import { brivoConfigSchema, type BrivoConfigInput } from '../providers/brivo/config.ts';
import { brivoModule } from '../providers/brivo/index.ts';
import { BRIVO_SANDBOX_EMAIL_FIELD_ID, startBrivoSandbox, type BrivoSeedUser } from '../providers/brivo/sandbox.ts';
import type { RunningSandbox } from '../providers/sandbox/kit.ts';
import { PermanentError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext, freshSubject } from './helpers/context.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';

let sandbox: RunningSandbox;

function provider(overrides: Partial<BrivoConfigInput> = {}): Provider {
  const config = brivoConfigSchema.parse({ ...brivoModule.sandboxConfig(sandbox), ...overrides });
  return brivoModule.create(config, { name: 'brivo-test', logger: silentLogger() });
}

const control = <T>(path: string, body?: unknown) => sandboxControl<T>(sandbox.url, path, body);

interface RawUser {
  id: number;
  suspended: boolean;
  credentials: Array<{ id: number }>;
}
const seed = (user: BrivoSeedUser) => control<RawUser>('/users', user);
const raw = (id: string | number) => control<RawUser>(`/users/${id}`);
const ctx = (subject: Subject) => actionContext(subject);
const validateCtx = () => ({ signal: AbortSignal.timeout(5000), logger: silentLogger() });

beforeAll(async () => {
  sandbox = await startBrivoSandbox({});
});
afterAll(async () => {
  await sandbox.close();
});

describe('deactivate_badge', () => {
  it('suspends and unassigns every credential once; a second run changes nothing', async () => {
    const subject = freshSubject('brivo');
    const seeded = await seed({ externalId: subject.externalId!, credentials: ['HID 26 bit Card', 'HID 37 bit Card', 'PIN Code'] });
    const p = provider();
    const account = (await p.resolve(subject, ctx(subject)))!;
    expect(account).toEqual({ id: String(seeded.id), externalId: subject.externalId, suspended: false });

    const first = await p.actions.deactivate_badge!.execute(account, ctx(subject));
    expect(first.evidence).toMatchObject({ suspendedBefore: false, suspended: true, alreadyDone: false });
    expect((first.evidence.credentialsRevoked as unknown[]).length).toBe(3);
    // Card numbers and PINs never reach evidence.
    expect(JSON.stringify(first.evidence)).not.toMatch(/encodedCredential|referenceId/);
    expect(await p.actions.deactivate_badge!.verify(account, ctx(subject))).toEqual({
      userId: account.id,
      suspended: true,
      remainingCredentials: [],
      credentialsChecked: true,
    });

    const again = await p.actions.deactivate_badge!.execute(account, ctx(subject));
    expect(again.evidence).toMatchObject({ suspendedBefore: true, credentialsRevoked: [], alreadyDone: true });
    const writes = sandbox.control.writes;
    expect(writes.get(`suspend:${seeded.id}`)).toBe(1);
    expect(writes.get(`remove_credential:${seeded.id}`)).toBe(3);
    expect(await raw(seeded.id)).toMatchObject({ suspended: true, credentials: [] });
  });

  it('with revokeCredentials: false it only suspends, and verify does not ask for the credentials', async () => {
    const subject = freshSubject('brivo');
    const seeded = await seed({ externalId: subject.externalId!, credentials: ['HID 26 bit Card'] });
    const p = provider({ revokeCredentials: false });
    const account = (await p.resolve(subject, ctx(subject)))!;
    await p.actions.deactivate_badge!.execute(account, ctx(subject));
    expect(await p.actions.deactivate_badge!.verify(account, ctx(subject))).toMatchObject({ suspended: true, credentialsChecked: false });
    expect((await raw(seeded.id)).credentials).toHaveLength(1);
  });
});

describe('resolve', () => {
  it('by the email custom field, refusing two users with the same value', async () => {
    const lookup = { by: 'customField', customFieldId: BRIVO_SANDBOX_EMAIL_FIELD_ID } as const;
    const subject: Subject = { emails: ['other@acme.example', 'Badge.Holder@acme.example'] };
    const seeded = await seed({ email: 'badge.holder@acme.example' });
    expect(await provider({ lookup }).resolve(subject, ctx(subject))).toMatchObject({ id: String(seeded.id) });

    await seed({ email: 'twin@acme.example' });
    await seed({ email: 'twin@acme.example' });
    const twin: Subject = { emails: ['twin@acme.example'] };
    await expect(provider({ lookup }).resolve(twin, ctx(twin))).rejects.toThrow(/ambiguous/);
  });

  it('refuses a value that Brivo filters cannot express (`,` or `;` would add values or filters)', async () => {
    const lookup = { by: 'customField', customFieldId: BRIVO_SANDBOX_EMAIL_FIELD_ID } as const;
    const subject: Subject = { emails: ['a@acme.example;user_status__eq:active'] };
    const before = sandbox.control.requests.length;
    await expect(provider({ lookup }).resolve(subject, ctx(subject))).rejects.toBeInstanceOf(PermanentError);
    expect(sandbox.control.requests.length).toBe(before);
  });

  it('a subject without externalId fails visibly rather than being skipped', async () => {
    const subject: Subject = { emails: ['a@acme.example'] };
    await expect(provider().resolve(subject, ctx(subject))).rejects.toBeInstanceOf(PermanentError);
  });
});

describe('credentials', () => {
  it('a wrong api-key is refused by the gateway (Developer Inactive) as a PermanentError without the key', async () => {
    const error = await provider({ apiKey: 'wrong-api-key-value' }).validate!(validateCtx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toContain('ERR_403_DEVELOPER_INACTIVE');
    expect((error as Error).message).not.toContain('wrong-api-key-value');
  });

  it('a wrong administrator password fails validate() with invalid_grant', async () => {
    const error = await provider({ password: 'wrong-password' }).validate!(validateCtx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/invalid_grant/);
  });

  it('reuses its token, and fetches another when Brivo refuses the cached one', async () => {
    const p = provider();
    const tokenRequests = () => sandbox.control.requests.filter((r) => r.path === '/oauth/token').length;
    const before = tokenRequests();
    await p.validate!(validateCtx());
    await p.validate!(validateCtx());
    expect(tokenRequests() - before).toBe(1);
    await control('/tokens/revoke', {});
    await p.validate!(validateCtx());
    expect(tokenRequests() - before).toBe(2);
  });
});
