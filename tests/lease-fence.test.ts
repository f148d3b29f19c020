/**
 * The provider fence (src/engine/lease-fence.ts): an attempt whose lease is ending, or was
 * taken over, sends no request to the provider, on the daemon's thread and on the attempt
 * worker thread. Against the Okta sandbox, whose request log shows what was sent.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providerModules } from '../providers/index.ts';
import { oktaModule } from '../providers/okta/index.ts';
import type { RunningSandbox } from '../providers/sandbox/kit.ts';
import type { Task } from '../src/domain/types.ts';
import { startAttemptThread } from '../src/startup/attempt-thread.ts';
import type { AttemptRequest, AttemptRunner } from '../src/engine/attempts.ts';
import { inlineAttempts } from '../src/startup/inline-attempts.ts';
import { monotonicMs } from '../src/engine/lease-fence.ts';
import { createProviders, type ProviderSpec } from '../src/startup/provider-setup.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { attemptRequest, oktaSandboxSpec, recordingHooks } from './helpers/attempt-request.ts';

let sandbox: RunningSandbox;
let spec: ProviderSpec;

beforeAll(async () => {
  ({ sandbox, spec } = await oktaSandboxSpec());
});
afterAll(async () => sandbox.close());

function request(leaseLeftMs: number, marginMs = 1_000, provider = 'okta', action: Task['action'] = 'disable_account'): AttemptRequest {
  // Brivo looks the subject up by externalId.
  return attemptRequest({
    action,
    provider,
    leaseLeftMs,
    marginMs,
    subject: (email) => ({ externalId: `hr-${email}`, userName: email, emails: [email] }),
  });
}

const runners: Array<[string, () => Promise<AttemptRunner>]> = [
  [
    "on the daemon's thread",
    async () => inlineAttempts(createProviders([spec], new Map([['okta', oktaModule]]), silentLogger()), silentLogger()),
  ],
  ['on the attempt worker thread', () => startAttemptThread([spec], silentLogger(), () => undefined)],
];

describe.each(runners)('the provider fence %s', (_name, start) => {
  let runner: AttemptRunner;
  beforeAll(async () => {
    runner = await start();
  });
  afterAll(async () => runner.close());

  it('sends no request when the lease has less left than the margin', async () => {
    const before = sandbox.control.snapshot().requests;
    const result = await runner.run(request(500, 1_000), recordingHooks);
    expect(sandbox.control.snapshot().requests).toBe(before);
    expect(result.outcome).toMatchObject({
      state: 'pending',
      error: { kind: 'transient', message: expect.stringMatching(/lease ends in \d+ ms, less than the 1000 ms margin/) },
    });
  });

  it('runs the attempt when the lease lasts, and stops before the next request once the lease is lost', async () => {
    expect((await runner.run(request(60_000), recordingHooks)).outcome.state).toBe('succeeded');

    // Every request takes 400 ms; the lease is taken over while the first one is on its way.
    sandbox.control.setFaults({ latencyMs: 400 });
    try {
      const lost = request(60_000);
      const before = sandbox.control.snapshot().requests;
      const pending = runner.run(lost, recordingHooks);
      await new Promise((resolve) => setTimeout(resolve, 100));
      runner.leaseChanged(lost.task.id, null);
      const result = await pending;
      expect(result.outcome).toMatchObject({
        state: 'pending',
        error: { kind: 'transient', message: expect.stringMatching(/taken over by another worker/) },
      });
      // The look-up in flight may have reached the sandbox; the suspend never did.
      const sent = sandbox.control.requests.slice(before);
      expect(sent.filter((r) => r.method !== 'GET')).toEqual([]);
    } finally {
      sandbox.control.setFaults({ latencyMs: 0 });
    }
  });

  it('records a fenced attempt as ending when its lease ran short, not when it noticed', async () => {
    sandbox.control.setFaults({ latencyMs: 400 });
    try {
      const frozen = request(60_000, 1_000);
      const pending = runner.run(frozen, recordingHooks);
      await new Promise((resolve) => setTimeout(resolve, 150));
      // As a process resumed after a freeze finds it: its lease ran short 3 s ago.
      const noticed = Date.now();
      runner.leaseChanged(frozen.task.id, monotonicMs() - 2_000);
      const result = await pending;
      expect(result.outcome).toMatchObject({ state: 'pending', error: { message: expect.stringMatching(/lease ends in 0 ms/) } });
      expect(result.attempt.finishedAt.getTime()).toBeLessThan(noticed);
      expect(result.attempt.finishedAt.getTime()).toBeGreaterThanOrEqual(result.attempt.startedAt.getTime());
    } finally {
      sandbox.control.setFaults({ latencyMs: 0 });
    }
  });

  it('follows a renewed lease: an attempt whose deadline moved on keeps going', async () => {
    sandbox.control.setFaults({ latencyMs: 300 });
    try {
      // 1.5 s of lease and a 1 s margin: without a renewal, a later request of the attempt is fenced.
      expect((await runner.run(request(1_500, 1_000), recordingHooks)).outcome).toMatchObject({
        state: 'pending',
        error: { message: expect.stringMatching(/margin/) },
      });
      const renewed = request(1_500, 1_000);
      const pending = runner.run(renewed, recordingHooks);
      await new Promise((resolve) => setTimeout(resolve, 100));
      runner.leaseChanged(renewed.task.id, monotonicMs() + 60_000);
      expect((await pending).outcome.state).toBe('succeeded');
    } finally {
      sandbox.control.setFaults({ latencyMs: 0 });
    }
  });
});

/** One action per kind, so every adapter's own error mapping is crossed by the fence's error. */
const ACTIONS: Record<string, Task['action']> = {
  okta: 'disable_account',
  google: 'disable_account',
  microsoft: 'disable_account',
  scim: 'disable_account',
  brivo: 'deactivate_badge',
  notify: 'notify',
  caep: 'revoke_sessions',
  ldap: 'disable_account',
  github: 'disable_account',
  slack: 'disable_account',
  rest: 'disable_account',
  aws: 'revoke_credentials',
  stripe: 'cancel_subscriptions',
  email: 'notify',
};

describe.each([...providerModules.keys()])('the provider fence in front of %s', (kind) => {
  it('sends nothing once the lease is short, and the attempt goes back to the queue without using one', async () => {
    const module = providerModules.get(kind)!;
    const running = await module.startSandbox({ autoProvision: true });
    const runner = inlineAttempts(
      createProviders(
        [{ name: kind, kind, settings: module.sandboxConfig(running), limits: { concurrency: 1 }, sandboxUrl: running.url }],
        providerModules,
        silentLogger(),
      ),
      silentLogger(),
    );
    try {
      const action = ACTIONS[kind];
      expect(action, `an action for ${kind}`).toBeDefined();
      const result = await runner.run(request(100, 1_000, kind, action), recordingHooks);
      // A credential grant may go out (Brivo's token endpoint is its own host with its own limit):
      // it changes nothing at the provider. Nothing else may.
      expect(running.control.requests.filter((r) => !/\/oauth2?\/token|\/token$/.test(r.path))).toEqual([]);
      expect(result.outcome).toMatchObject({
        state: 'pending',
        countsAsAttempt: false,
        error: { message: expect.stringMatching(/lease ends in \d+ ms/) },
      });
    } finally {
      await runner.close();
      await running.close();
    }
  });
});

describe('a destructive action records its account before its first write', () => {
  let runner: AttemptRunner;
  beforeAll(async () => {
    runner = inlineAttempts(createProviders([spec], new Map([['okta', oktaModule]]), silentLogger()), silentLogger());
  });
  afterAll(async () => runner.close());

  const deletion = () => {
    const r = request(60_000, 1_000, 'okta', 'delete_account');
    return { ...r, task: { ...r.task, params: { mode: 'deactivate' } } };
  };
  const writes = (since: number) => sandbox.control.requests.slice(since).filter((entry) => entry.method !== 'GET');

  it('writes the account onto the task first, so the next holder knows there was one', async () => {
    const before = sandbox.control.requests.length;
    const recorded: Array<{ account: unknown; writesSoFar: number }> = [];
    const result = await runner.run(deletion(), {
      recordAccount: async (account) => {
        recorded.push({ account, writesSoFar: writes(before).length });
        return true;
      },
    });
    expect(result.outcome.state).toBe('succeeded');
    expect(recorded).toEqual([{ account: expect.objectContaining({ id: expect.any(String) }), writesSoFar: 0 }]);
    expect(writes(before).length).toBeGreaterThan(0);
  });

  it('sends no write when the claim no longer holds the task', async () => {
    const before = sandbox.control.requests.length;
    const result = await runner.run(deletion(), { recordAccount: async () => false });
    expect(writes(before)).toEqual([]);
    expect(result.outcome).toMatchObject({
      state: 'pending',
      countsAsAttempt: false,
      error: { message: expect.stringMatching(/taken over by another worker before its first write/) },
    });
  });

  it('does not ask again when the task already knows its account', async () => {
    const first = deletion();
    let asked = 0;
    const hooks = { recordAccount: async () => (asked += 1) > 0 };
    const known = await runner.run(first, hooks);
    expect(asked).toBe(1);
    const again = await runner.run(
      { ...first, task: { ...first.task, account: known.outcome.state === 'succeeded' ? known.outcome.account : null, attempts: 2 } },
      hooks,
    );
    expect(asked).toBe(1);
    expect(again.outcome.state).toBe('succeeded');
  });
});
