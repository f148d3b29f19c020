/**
 * CAEP session-revoked events: signed SETs pushed to a receiver that checks the signature,
 * issuer, audience and type, as Okta's or Google's SSF receivers do.
 */
import { generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Provider } from '../providers/contract.ts';
import { caepModule } from '../providers/caep/index.ts';
import type { CaepSandbox } from '../providers/caep/sandbox.ts';
import { SESSION_REVOKED } from '../providers/caep/set.ts';
import { PermanentError, RateLimitedError, VerificationError } from '../src/domain/errors.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext, freshSubject } from './helpers/context.ts';

describe('caep provider', () => {
  let sandbox: CaepSandbox;
  let provider: Provider;

  beforeAll(async () => {
    sandbox = (await caepModule.startSandbox({})) as CaepSandbox;
    provider = caepModule.create(caepModule.sandboxConfig(sandbox), { name: 'caep', logger: silentLogger() });
  });
  afterAll(() => sandbox.close());

  it('pushes a signed session-revoked SET the receiver verifies, once per termination even when retried', async () => {
    const subject = freshSubject('caep');
    const terminationId = `t-${Date.now()}`;
    const ctx = actionContext(subject, { terminationId, taskId: `task-${terminationId}` });
    const account = (await provider.resolve(subject, ctx))!;
    expect(account).toMatchObject({ id: subject.emails[0], format: 'email' });
    const first = await provider.actions.revoke_sessions!.execute(account, ctx);
    expect(first.evidence).toMatchObject({ event: 'session-revoked', receivers: [{ status: 202 }] });
    expect(await provider.actions.revoke_sessions!.verify(account, ctx)).toMatchObject({ acknowledgedBy: [{ status: 202 }] });
    await provider.actions.revoke_sessions!.execute(account, ctx);
    const received = sandbox.events.filter((e) => e.claims.txn === ctx.terminationId);
    expect(received).toHaveLength(1);
    expect(received[0]!.claims).toMatchObject({
      iss: 'https://deprovisiond.sandbox.invalid',
      aud: 'https://receiver.sandbox.invalid',
      sub_id: { format: 'email', email: subject.emails[0] },
      events: { [SESSION_REVOKED]: { initiating_entity: 'policy' } },
    });
  });

  it('derives the jti from the task: two CAEP tasks of one termination both arrive, a retry of one is dropped', async () => {
    const subject = freshSubject('caep-two');
    const terminationId = `t-two-${Date.now()}`;
    const first = actionContext(subject, { terminationId, taskId: `${terminationId}-caep-early` });
    const second = actionContext(subject, { terminationId, taskId: `${terminationId}-caep-late` });
    const account = (await provider.resolve(subject, first))!;
    const pushes = [first, second, { ...first, attempt: 2 }];
    const jtis: string[] = [];
    for (const ctx of pushes) {
      const executed = await provider.actions.revoke_sessions!.execute(account, ctx);
      jtis.push((executed.evidence.receivers as Array<{ jti: string }>)[0]!.jti);
    }
    expect(sandbox.events.filter((e) => e.claims.txn === terminationId)).toHaveLength(2);
    expect(jtis[0]).not.toBe(jtis[1]);
    expect(jtis[2]).toBe(jtis[0]);
    // Each task's verify reports its own acknowledgement.
    expect(await provider.actions.revoke_sessions!.verify(account, second)).toMatchObject({ acknowledgedBy: [{ jti: jtis[1] }] });
  });

  it('is refused (PermanentError) when signed with another key, and nothing is recorded', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const config = caepModule.sandboxConfig(sandbox);
    const forger = caepModule.create(
      { ...config, signingKey: { ...config.signingKey, pem: other } },
      { name: 'caep', logger: silentLogger() },
    );
    const subject = freshSubject('forged');
    const ctx = actionContext(subject, { terminationId: 'forged-1' });
    const error = await forger.actions.revoke_sessions!.execute((await forger.resolve(subject, ctx))!, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect(sandbox.events.some((e) => e.claims.txn === 'forged-1')).toBe(false);
    await expect(forger.actions.revoke_sessions!.verify({ id: 'x' }, ctx)).rejects.toBeInstanceOf(VerificationError);
  });

  it('refuses a signing key that does not parse (PermanentError, the key not echoed), and pushes nothing', async () => {
    const config = caepModule.sandboxConfig(sandbox);
    const pem = '-----BEGIN PRIVATE KEY-----\nbm90LWEta2V5\n-----END PRIVATE KEY-----\n';
    const broken = caepModule.create({ ...config, signingKey: { ...config.signingKey, pem } }, { name: 'caep', logger: silentLogger() });
    const subject = freshSubject('badkey');
    const ctx = actionContext(subject, { terminationId: 'badkey-1' });
    const account = (await broken.resolve(subject, ctx))!;
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await broken.actions.revoke_sessions!.execute(account, ctx).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as Error).message).toContain('not a PKCS#8 PEM private key for ES256');
      expect((error as Error).message).not.toContain('bm90LWEta2V5');
    }
    expect(sandbox.events.some((e) => e.claims.txn === 'badkey-1')).toBe(false);
  });

  it('signs with the configured key id and the secevent+jwt type', async () => {
    const { importSigningKey, signSessionRevoked } = await import('../providers/caep/set.ts');
    const config = caepModule.sandboxConfig(sandbox);
    const privateKey = await importSigningKey(config.signingKey);
    const { jwt } = await signSessionRevoked({
      issuer: config.issuer,
      audience: 'a',
      key: config.signingKey,
      privateKey,
      subject: { format: 'opaque', id: 'E1' },
      terminationId: 't',
      taskId: 'task-t',
      eventTime: new Date(),
    });
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: 'ES256', kid: 'sandbox-key-1', typ: 'secevent+jwt' });
  });

  it('turns a receiver asking to slow down into RateLimitedError', async () => {
    sandbox.control.setFaults({ rateLimitRate: 1, rateLimitRetryAfterMs: 2000 });
    try {
      const subject = freshSubject('slow');
      const ctx = actionContext(subject);
      const error = await provider.actions.revoke_sessions!.execute((await provider.resolve(subject, ctx))!, ctx).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RateLimitedError);
      expect((error as RateLimitedError).retryAfterMs).toBe(2000);
    } finally {
      sandbox.control.setFaults({});
    }
  });

  it('skips a subject with no usable identifier', async () => {
    expect(await provider.resolve({ emails: [] }, actionContext({ emails: [] }))).toBeNull();
  });
});
