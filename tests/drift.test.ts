/**
 * Revoked stays revoked (issue 30), through the whole daemon against the Okta sandbox:
 * a completed termination is read back again on schedule; an account re-enabled behind our
 * back is drift (metric, audit, notification, evidence) and, where the playbook says so,
 * remediated: suspended again and verified.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifyModule } from '../providers/notify/index.ts';
import type { ReceivedMessage } from '../providers/notify/sandbox.ts';
import type { ProviderModule } from '../providers/module.ts';
import { oktaModule } from '../providers/okta/index.ts';
import { configSchema } from '../src/config/schema.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import type { Reverification } from '../src/domain/reverify.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { pollUntil } from './helpers/poll.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';
import { inlineAttemptsIn } from './helpers/test-module.ts';

describe('drift: re-verification against the Okta sandbox', () => {
  let dir: string;
  let daemon: Daemon;
  let messages: ReceivedMessage[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-drift-'));
    const config = configSchema.parse({
      server: { port: 0 },
      store: { sqlite: { path: join(dir, 'store.db') } },
      auth: { admin: [{ name: 'ops', token: 'operator-token-drift-000001', role: 'operator' }], publicMetrics: true },
      engine: { retry: { maxAttempts: 2, baseDelay: '10ms', maxDelay: '50ms' } },
      // Due at once after completion, looked for often: the test waits for states, not for hours.
      reverify: { offsets: ['1ms'], pollInterval: '50ms' },
      providers: { okta: { kind: 'okta', sandbox: { autoProvision: true } }, security: { kind: 'notify', sandbox: {} } },
      playbooks: {
        employee: {
          steps: [{ id: 'suspend', provider: 'okta', action: 'disable_account' }],
          onFailure: { provider: 'security' },
          reverify: { remediate: true },
        },
      },
      defaultPlaybook: 'employee',
    });
    daemon = await startDaemon(inlineAttemptsIn(config), {
      configFile: 'drift.yaml',
      logger: silentLogger(),
      modules: new Map<string, ProviderModule>([
        ['okta', oktaModule],
        ['notify', notifyModule],
      ]),
    });
    messages = (daemon.sandboxes.get('security') as unknown as { messages: ReceivedMessage[] }).messages;
  });
  afterAll(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const metric = async (name: string, labels: string) => {
    const text = await (await fetch(`${daemon.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
    return line === undefined ? null : Number(line.split(' ').at(-1));
  };
  const settled = async (terminationId: string, done: (rows: Reverification[]) => boolean, what: string) => {
    let rows: Reverification[] = [];
    await pollUntil(
      async () => done((rows = await daemon.store.listReverifications(terminationId))),
      () => `${what}: ${JSON.stringify(rows.map((r) => [r.reason, r.state, r.outcome]))}`,
      10_000,
    );
    return rows;
  };

  it('reads back on schedule, detects a re-enabled account, alerts, and suspends it again', async () => {
    const login = 'drift-1@example.com';
    const { termination } = await daemon.terminations.submit({
      source: 'admin',
      subject: { userName: login, emails: [login] },
      actor: 'admin:ops',
    });
    await pollUntil(
      async () => (await daemon.store.getTermination(termination.id))?.state === 'completed',
      () => 'the termination did not complete',
      10_000,
    );
    const scheduled = await settled(termination.id, (rows) => rows.length === 1 && rows[0]!.state === 'done', 'first round');
    expect(scheduled[0]).toMatchObject({ reason: 'scheduled', outcome: 'held', action: 'disable_account' });
    expect(await metric('deprovisiond_drift_total', 'provider="okta",action="disable_account"')).toBe(0);

    // Someone turns the account back on behind our back.
    const [task] = await daemon.store.listTasks(termination.id);
    const userId = (task!.account as { id: string }).id;
    await sandboxControl(daemon.sandboxes.get('okta')!.url, `/users/${userId}/reactivate`, {});
    expect(await daemon.store.requestReverification(termination.id, 'admin:ops')).toHaveLength(1);

    const afterDrift = await settled(
      termination.id,
      (rows) =>
        rows.some((r) => r.outcome === 'drift') &&
        rows.filter((r) => r.reason === 'scheduled').every((r) => r.state === 'done') &&
        rows.length >= 3,
      'drift, remediation and the next round',
    );
    const drift = afterDrift.find((r) => r.outcome === 'drift')!;
    expect(drift.reason).toBe('on_demand');
    expect(drift.evidence).toMatchObject({ observed: { status: 'ACTIVE' }, remediation: true });
    await pollUntil(
      async () => (await metric('deprovisiond_drift_total', 'provider="okta",action="disable_account"')) === 1,
      () => 'the drift was not counted',
      5_000,
    );

    // Remediated: suspended again, verified, and the fresh round after it holds.
    const user = await sandboxControl<{ status: string }>(daemon.sandboxes.get('okta')!.url, `/users/${userId}`);
    expect(user.status).toBe('SUSPENDED');
    expect((await daemon.store.getTermination(termination.id))?.state).toBe('completed');
    expect(afterDrift.at(-1)).toMatchObject({ reason: 'scheduled', outcome: 'held' });

    await daemon.store.linkAudit();
    const actions = (await daemon.store.listAuditOf(termination.id)).map((a) => a.action);
    expect(actions).toEqual(
      expect.arrayContaining(['task.reverified', 'termination.reverify_requested', 'task.drift', 'task.remediation']),
    );
    expect(actions.indexOf('task.remediation')).toBeGreaterThan(actions.indexOf('task.drift'));

    // The evidence shows the re-verifications: the last read-back and the drift found.
    const res = await fetch(`${daemon.url}/admin/v1/terminations/${termination.id}/evidence`, {
      headers: { authorization: 'Bearer operator-token-drift-000001' },
    });
    const doc = (await res.json()) as {
      tasks: Array<{ step: string; reverified: { lastOutcome: string; drifts: number; lastHeldBy: unknown } }>;
    };
    expect(doc.tasks.find((t) => t.step === 'suspend')?.reverified).toMatchObject({
      lastOutcome: 'held',
      drifts: 1,
      lastHeldBy: { verify: { status: 'SUSPENDED' } },
    });

    await pollUntil(
      () => Promise.resolve(messages.some((m) => JSON.stringify(m.body).includes('Access came back'))),
      () => 'no drift notification reached the security channel',
      10_000,
    );
    const told = messages.find((m) => JSON.stringify(m.body).includes('Access came back'))!.body;
    expect(told).toMatchObject({ type: 'deprovisiond.termination.drift', driftStep: 'suspend', observed: { status: 'ACTIVE' } });
    expect(JSON.stringify(told)).toContain('being run again');
  });
});

describe('drift on the attempt worker thread: a group re-added, told but not remediated', () => {
  let dir: string;
  let daemon: Daemon;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-drift-thread-'));
    // Default engine settings: attempts, and so read-backs, run on the worker thread.
    const config = configSchema.parse({
      server: { port: 0 },
      store: { sqlite: { path: join(dir, 'store.db') } },
      auth: { admin: [{ name: 'ops', token: 'operator-token-drift-000002', role: 'operator' }], publicMetrics: true },
      reverify: { offsets: [], pollInterval: '50ms' },
      providers: { okta: { kind: 'okta', sandbox: { autoProvision: true } } },
      playbooks: {
        employee: {
          steps: [
            { id: 'suspend', provider: 'okta', action: 'disable_account' },
            { id: 'groups', provider: 'okta', action: 'remove_groups', after: ['suspend'] },
          ],
        },
      },
      defaultPlaybook: 'employee',
    });
    daemon = await startDaemon(config, { configFile: 'drift-thread.yaml', logger: silentLogger() });
  });
  afterAll(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the re-added group at an on-demand re-verification and leaves the step as it was', async () => {
    const login = 'drift-2@example.com';
    const { termination } = await daemon.terminations.submit({
      source: 'admin',
      subject: { userName: login, emails: [login] },
      actor: 'admin:ops',
    });
    await pollUntil(
      async () => (await daemon.store.getTermination(termination.id))?.state === 'completed',
      () => 'the termination did not complete',
      15_000,
    );
    expect(await daemon.store.listReverifications(termination.id), 'offsets [] schedules nothing').toEqual([]);
    const groups = (await daemon.store.listTasks(termination.id)).find((t) => t.stepId === 'groups')!;
    const userId = (groups.account as { id: string }).id;
    await sandboxControl(daemon.sandboxes.get('okta')!.url, `/users/${userId}/groups`, { name: 'Engineering', type: 'OKTA_GROUP' });

    const res = await fetch(`${daemon.url}/admin/v1/terminations/${termination.id}/reverify`, {
      method: 'POST',
      headers: { authorization: 'Bearer operator-token-drift-000002', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(202);
    let rows: Reverification[] = [];
    await pollUntil(
      async () => (rows = await daemon.store.listReverifications(termination.id)).length === 2 && rows.every((r) => r.state === 'done'),
      () => `re-verifications: ${JSON.stringify(rows.map((r) => [r.action, r.state, r.outcome]))}`,
      15_000,
    );
    expect(Object.fromEntries(rows.map((r) => [r.action, r.outcome]))).toEqual({ disable_account: 'held', remove_groups: 'drift' });
    expect(rows.find((r) => r.action === 'remove_groups')?.evidence).toMatchObject({ remediation: false });
    expect((await daemon.store.getTask(groups.id))?.state).toBe('succeeded');
    expect((await daemon.store.getTermination(termination.id))?.state).toBe('completed');
    // The counter moves once the drift's commit returns to the reverifier, a moment after the row reads done.
    let text = '';
    await pollUntil(
      async () =>
        (text = await (await fetch(`${daemon.url}/metrics`)).text()).includes(
          'deprovisiond_drift_total{provider="okta",action="remove_groups"} 1',
        ),
      () =>
        `no drift counted: ${text
          .split('\n')
          .filter((l) => l.startsWith('deprovisiond_drift_total'))
          .join('; ')}`,
      5_000,
    );
    expect(text).toContain('deprovisiond_drift_total{provider="okta",action="disable_account"} 0');
  });
});
