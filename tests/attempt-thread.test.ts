/**
 * Attempts on the worker thread (src/startup/attempt-thread.ts) against the Okta sandbox:
 * the same outcome as on the daemon's thread, the playbook check before validation, the
 * worker's log lines in the daemon's log stream, aborts at shutdown, a thread that dies, and
 * the thread's lower CPU priority.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oktaModule } from '../providers/okta/index.ts';
import type { RunningSandbox } from '../providers/sandbox/kit.ts';
import type { Task } from '../src/domain/types.ts';
import { startAttemptThread } from '../src/startup/attempt-thread.ts';
import type { AttemptRequest, AttemptRunner } from '../src/engine/attempts.ts';
import { inlineAttempts } from '../src/startup/inline-attempts.ts';
import { EngineEventBus } from '../src/engine/events.ts';
import { createProviders, type ProviderSpec, type ProviderSummary } from '../src/startup/provider-setup.ts';
import { createLogger, silentLogger } from '../src/telemetry/logger.ts';
import { attemptRequest, oktaSandboxSpec, recordingHooks } from './helpers/attempt-request.ts';
import { procStatFields } from './helpers/proc-stat.ts';

let sandbox: RunningSandbox;
let spec: ProviderSpec;

beforeAll(async () => {
  ({ sandbox, spec } = await oktaSandboxSpec());
});
afterAll(async () => sandbox.close());

function request(action: Task['action'], email = `${randomUUID()}@example.com`, maxAttempts = 3): AttemptRequest {
  return attemptRequest({ action, email, maxAttempts });
}

/** Masks what differs between two subjects (ids, logins, times) so two outcomes can be compared. */
const shape = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value), (key, v: unknown) =>
    ['id', 'userId', 'login', 'taskId', 'startedAt', 'finishedAt', 'worker'].includes(key) ? '*' : v,
  );

describe('attempts on the worker thread', () => {
  let thread: AttemptRunner;
  let seen: ProviderSummary[] = [];
  const lines: string[] = [];

  beforeAll(async () => {
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } });
    thread = await startAttemptThread([spec], logger, (providers) => void (seen = providers));
  });
  afterAll(async () => thread.close());

  it('reports what the providers support before they are validated', () => {
    expect(seen).toEqual([{ name: 'okta', kind: 'okta', actions: expect.arrayContaining(['disable_account', 'revoke_sessions']) }]);
  });

  it('carries out an attempt with the outcome the inline runner gives for the same request', async () => {
    const viaThread = await thread.run(request('disable_account'), recordingHooks);
    expect(viaThread.outcome.state).toBe('succeeded');
    expect(viaThread.attempt.finishedAt).toBeInstanceOf(Date);
    const suspended = Object.entries(sandbox.control.snapshot().writes).filter(([k]) => k.startsWith('suspend:'));
    expect(suspended.length).toBeGreaterThanOrEqual(1);

    const inline = inlineAttempts(createProviders([spec], new Map([['okta', oktaModule]]), silentLogger()), silentLogger());
    const onThisThread = await inline.run(request('disable_account'), recordingHooks);
    await inline.close();
    expect(shape(viaThread)).toEqual(shape(onThisThread));
  });

  it("writes the worker's log lines to the daemon's log stream", async () => {
    const failing = request('wipe_devices', undefined, 1);
    const result = await thread.run(failing, recordingHooks);
    expect(result.outcome.state).toBe('failed');
    const line = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'task failed' && l.taskId === failing.task.id);
    expect(line).toMatchObject({
      service: 'deprovisiond',
      provider: 'okta',
      action: 'wipe_devices',
      terminationId: failing.termination.id,
    });
  });

  it('abort ends the attempts in flight as a transient error that will be retried', async () => {
    sandbox.control.setFaults({ latencyMs: 5_000 });
    try {
      const pending = thread.run(request('disable_account'), recordingHooks);
      await new Promise((resolve) => setTimeout(resolve, 200));
      thread.abort();
      const result = await Promise.race([
        pending,
        new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 4_000)),
      ]);
      expect(result).not.toBe('still running');
      expect(result).toMatchObject({ outcome: { state: 'pending', error: { kind: 'transient', message: 'attempt aborted by shutdown' } } });
    } finally {
      sandbox.control.setFaults({ latencyMs: 0 });
    }
  });
});

describe('the attempt worker thread at start and when it dies', () => {
  it('stops before validation when the playbook check refuses the providers', async () => {
    const before = sandbox.control.snapshot().requests;
    const refused = new Error('playbooks.default.steps[0].action: not supported');
    await expect(
      startAttemptThread([spec], silentLogger(), () => {
        throw refused;
      }),
    ).rejects.toBe(refused);
    expect(sandbox.control.snapshot().requests).toBe(before);
  });

  it('fails start-up naming the provider whose validation failed', async () => {
    const wrong = { ...spec, settings: { ...(spec.settings as object), token: 'not-the-sandbox-token' } };
    await expect(startAttemptThread([wrong], silentLogger(), () => undefined)).rejects.toThrow(/^provider okta \(okta\) failed validation/);
  });

  it('fails the attempts in flight when the thread dies, and the next attempt starts a new thread', async () => {
    const events = new EngineEventBus();
    const exits: Array<{ code: number; attemptsLost: number }> = [];
    events.on('attempt_thread:exited', (e) => exits.push(e));
    const thread = await startAttemptThread([spec], silentLogger(), () => undefined, { events });
    try {
      sandbox.control.setFaults({ latencyMs: 2_000 });
      const inFlight = thread.run(request('disable_account'), recordingHooks);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await (thread as unknown as { worker: Worker }).worker.terminate();
      await expect(inFlight).rejects.toThrow(/exited .* during the attempt/);
      expect(exits).toEqual([{ code: 1, attemptsLost: 1 }]);
      sandbox.control.setFaults({ latencyMs: 0 });
      expect((await thread.run(request('disable_account'), recordingHooks)).outcome.state).toBe('succeeded');
    } finally {
      sandbox.control.setFaults({ latencyMs: 0 });
      await thread.close();
    }
    await expect(thread.run(request('disable_account'), recordingHooks)).rejects.toThrow('closed');
    // Closing is not a crash.
    expect(exits).toHaveLength(1);
  });
});

describe('the attempt worker thread’s CPU priority', () => {
  /** Nice value of each thread of this process, read from the kernel. */
  const niceByThread = () =>
    new Map(readdirSync('/proc/self/task').map((tid) => [Number(tid), Number(procStatFields(`/proc/self/task/${tid}/stat`)[16])] as const));

  it.runIf(process.platform === 'linux')('lowers the worker thread by the configured steps and no other thread', async () => {
    const before = niceByThread();
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } });
    const thread = await startAttemptThread([spec], logger, () => undefined, { niceIncrement: 5 });
    try {
      const started = lines
        .map((l) => JSON.parse(l) as { msg: string; priority?: { tid: number; nice: number } })
        .find((l) => l.msg === 'attempt worker thread started');
      const tid = started?.priority?.tid;
      expect(tid).toBeTypeOf('number');
      const after = niceByThread();
      const base = before.get(process.pid)!;
      expect(started?.priority?.nice).toBe(base + 5);
      expect(after.get(tid!)).toBe(base + 5);
      // Every other thread (this one, libuv's pool where the WAL is synced, V8's) keeps its priority.
      const lowered = [...after].filter(([id, nice]) => id !== tid && nice !== (before.get(id) ?? base));
      expect(lowered).toEqual([]);
      expect((await thread.run(request('disable_account'), recordingHooks)).outcome.state).toBe('succeeded');
    } finally {
      await thread.close();
    }
  });
});
