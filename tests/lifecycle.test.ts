/**
 * People steps and signals through the whole daemon: manual checklist items completed
 * through the admin API (audited), notifications when something fails, the blast-radius
 * brake holding a burst until an operator approves it, and the evidence endpoint.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifyModule } from '../providers/notify/index.ts';
import type { ReceivedMessage } from '../providers/notify/sandbox.ts';
import { runCli } from '../src/cli/main.ts';
import { configSchema } from '../src/config/schema.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import { PermanentError } from '../src/domain/errors.ts';
import type { Task, Termination } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import type { FakeProvider } from './helpers/fake-provider.ts';
import { pollUntil } from './helpers/poll.ts';
import { createTestModule } from './helpers/test-module.ts';
import { inlineAttemptsIn } from './helpers/test-module.ts';

const OPERATOR = 'operator-token-lifecycle-0001';
const VIEWER = 'viewer-token-lifecycle-00001';

describe('lifecycle: manual steps, failure notifications, brake, evidence', () => {
  let dir: string;
  let daemon: Daemon;
  let fake: FakeProvider;
  let messages: ReceivedMessage[];
  let n = 0;
  const subject = () => {
    n += 1;
    return { userName: `life-${n}@example.com`, emails: [`life-${n}@example.com`], displayName: `Person ${n}` };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-lifecycle-'));
    const config = configSchema.parse({
      server: { port: 0 },
      store: { sqlite: { path: join(dir, 'store.db') } },
      auth: {
        admin: [
          { name: 'ops', token: OPERATOR, role: 'operator' },
          { name: 'watcher', token: VIEWER, role: 'viewer' },
        ],
        publicMetrics: true,
      },
      engine: { retry: { maxAttempts: 1 } },
      providers: { idp: { kind: 'fake' }, security: { kind: 'notify', sandbox: {} } },
      playbooks: {
        employee: {
          steps: [
            { id: 'revoke', provider: 'idp', action: 'revoke_sessions' },
            { id: 'disable', provider: 'idp', action: 'disable_account' },
            { id: 'collect-laptop', action: 'manual', params: { instructions: 'Collect the laptop', dueWithin: '1ms' } },
            { id: 'tell-security', provider: 'security', action: 'notify', params: { event: 'revoked' }, after: ['revoke', 'disable'] },
          ],
          onFailure: { provider: 'security' },
        },
        quick: { steps: [{ id: 'revoke', provider: 'idp', action: 'revoke_sessions' }] },
      },
      defaultPlaybook: 'employee',
      brake: { maxTerminations: 6, window: '1h', notify: 'security' },
    });
    const { modules, fakes } = createTestModule();
    daemon = await startDaemon(inlineAttemptsIn(config), {
      configFile: 'lifecycle.yaml',
      logger: silentLogger(),
      modules: new Map([...modules, ['notify', notifyModule]]),
    });
    fake = fakes.get('idp')!;
    messages = (daemon.sandboxes.get('security') as unknown as { messages: ReceivedMessage[] }).messages;
  });
  afterAll(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const api = async (method: string, path: string, body?: unknown, token = OPERATOR) => {
    const res = await fetch(`${daemon.url}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, text, body: text.startsWith('{') ? JSON.parse(text) : null };
  };
  const waitTasks = async (id: string, done: (tasks: Task[]) => boolean) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const tasks = await daemon.store.listTasks(id);
      if (done(tasks)) return tasks;
      if (Date.now() > deadline) throw new Error(`timed out: ${tasks.map((t) => `${t.stepId}=${t.state}`).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const stateOf = (tasks: Task[], step: string) => tasks.find((t) => t.stepId === step)?.state;
  const metric = async (name: string) => {
    const text = await (await fetch(`${daemon.url}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  };

  it('waits for a person on a manual step, counts it overdue, and records who completed it', async () => {
    const { termination } = await daemon.terminations.submit({ source: 'admin', subject: subject(), actor: 'admin:ops' });
    const tasks = await waitTasks(termination.id, (t) => stateOf(t, 'tell-security') === 'succeeded');
    expect(stateOf(tasks, 'collect-laptop')).toBe('pending');
    expect((await daemon.store.getTermination(termination.id))!.state).toBe('running');
    expect(
      messages.some(
        (m) =>
          (m.body as { type?: string; terminationId?: string }).type === 'deprovisiond.termination.revoked' &&
          (m.body as { terminationId: string }).terminationId === termination.id,
      ),
    ).toBe(true);
    expect(await metric('deprovisiond_manual_tasks_pending')).toBeGreaterThanOrEqual(1);
    expect(await metric('deprovisiond_manual_tasks_overdue')).toBeGreaterThanOrEqual(1);

    const manual = tasks.find((t) => t.stepId === 'collect-laptop')!;
    const path = `/terminations/${termination.id}/tasks/${manual.id}/complete`;
    expect((await api('POST', path, { outcome: 'done', reason: 'laptop returned' }, VIEWER)).status).toBe(403);
    const revoke = tasks.find((t) => t.stepId === 'revoke')!;
    expect(
      (await api('POST', `/terminations/${termination.id}/tasks/${revoke.id}/complete`, { outcome: 'done', reason: 'x' })).status,
    ).toBe(409);
    const done = await api('POST', path, { outcome: 'done', reason: 'laptop returned' });
    expect(done.status).toBe(200);
    expect(done.body.task).toMatchObject({
      state: 'succeeded',
      evidence: { completedBy: 'admin:ops', outcome: 'done', reason: 'laptop returned' },
    });
    expect((await api('POST', path, { outcome: 'done', reason: 'again' })).status).toBe(409);
    expect((await daemon.store.getTermination(termination.id))!.state).toBe('completed');
    const audit = await daemon.store.listAuditOf(termination.id);
    expect(audit.find((e) => e.action === 'task.completed_manually')).toMatchObject({
      actor: 'admin:ops',
      taskId: manual.id,
      data: { outcome: 'done', reason: 'laptop returned' },
    });

    // The evidence names the person, as JSON and as a page; the CLI prints the same document.
    const evidence = await api('GET', `/terminations/${termination.id}/evidence`, undefined, VIEWER);
    expect(evidence.body.tasks.find((t: { step: string }) => t.step === 'collect-laptop').verifiedBy).toMatchObject({
      completedBy: 'admin:ops',
    });
    expect(evidence.body.actions.map((a: { action: string }) => a.action)).toContain('task.completed_manually');
    const page = await api('GET', `/terminations/${termination.id}/evidence?format=html`, undefined, VIEWER);
    expect(page.text).toContain('<h1>Termination evidence</h1>');
    expect(page.text).toContain('laptop returned');
    let printed = '';
    const io = {
      env: { DEPROVISIOND_URL: daemon.url, DEPROVISIOND_TOKEN: VIEWER },
      out: { write: (t: string) => (printed += t) },
      err: { write: () => undefined },
    };
    expect(await runCli(['evidence', termination.id], io)).toBe(0);
    expect(JSON.parse(printed).termination.id).toBe(termination.id);
  });

  it('marks a manual step not applicable through the CLI, with the reason', async () => {
    const { termination } = await daemon.terminations.submit({ source: 'admin', subject: subject(), actor: 'admin:ops' });
    const tasks = await waitTasks(termination.id, (t) => stateOf(t, 'tell-security') === 'succeeded');
    const manual = tasks.find((t) => t.stepId === 'collect-laptop')!;
    let printed = '';
    const io = {
      env: { DEPROVISIOND_URL: daemon.url, DEPROVISIOND_TOKEN: OPERATOR },
      out: { write: (t: string) => (printed += t) },
      err: { write: () => undefined },
    };
    expect(
      await runCli(
        ['complete', termination.id, 'collect-laptop', '--outcome', 'not_applicable', '--reason', 'remote worker, no laptop'],
        io,
      ),
    ).toBe(0);
    expect(printed).toContain('skipped');
    expect(await runCli(['complete', termination.id, manual.id, '--outcome', 'maybe', '--reason', 'x'], io)).toBe(2);
    expect((await daemon.store.getTask(manual.id))!.evidence).toMatchObject({
      outcome: 'not_applicable',
      reason: 'remote worker, no laptop',
    });
  });

  it('tells the security team when a step fails', async () => {
    fake.script('disable_account', { kind: 'throw', error: new PermanentError('403 insufficient permissions') });
    const { termination } = await daemon.terminations.submit({ source: 'admin', subject: subject(), actor: 'admin:ops' });
    const tasks = await waitTasks(termination.id, (t) => stateOf(t, 'notify-failed-disable') === 'succeeded');
    expect(stateOf(tasks, 'disable')).toBe('failed');
    expect(stateOf(tasks, 'tell-security')).toBe('pending');
    const message = messages.find(
      (m) =>
        (m.body as { terminationId?: string; type?: string }).terminationId === termination.id &&
        (m.body as { type: string }).type === 'deprovisiond.termination.failed',
    );
    expect(message?.body).toMatchObject({ failedStep: 'disable' });
    expect(JSON.stringify(message?.body)).not.toContain('insufficient permissions');
    // A person still has the laptop to collect: the termination is running, not finished, and the failure shows on the task.
    expect(await daemon.store.getTermination(termination.id)).toMatchObject({ state: 'running', finishedAt: null });
    // Alertable at once, whatever the termination's state (the gauge is cached for a second between scrapes).
    await pollUntil(
      async () => (await metric('deprovisiond_failed_unresolved_tasks')) >= 1,
      () => 'the failed task never showed in the metric',
      5_000,
    );
    // `status` exits 1 for it all the same, so a script watching it still alerts.
    const io = {
      env: { DEPROVISIOND_URL: daemon.url, DEPROVISIOND_TOKEN: VIEWER },
      out: { write: () => undefined },
      err: { write: () => undefined },
    };
    expect(await runCli(['status', termination.id], io)).toBe(1);
    // And --watch stops at once rather than waiting for a revocation that needs an operator first.
    let watched = '';
    const watching = { ...io, out: { write: (t: string) => (watched += t) } };
    expect(await runCli(['status', termination.id, '--watch', '--timeout', '30s'], watching)).toBe(1);
    expect(watched).toMatch(/: a critical task failed, so access is not revoked while its other tasks go on; replay or waive it/);
    const manual = tasks.find((t) => t.stepId === 'collect-laptop')!;
    await daemon.store.completeManualTask(manual.id, 'admin:ops', 'done', 'laptop returned');
    // Now only what waits behind the failure is left: nothing moves without an operator.
    expect((await daemon.store.getTermination(termination.id))!.state).toBe('failed');
  });

  it('holds a burst past the brake, tells the security team, and runs it once approved', async () => {
    // Three terminations so far; the brake allows six in the window.
    const burst: Termination[] = [];
    for (let i = 0; i < 5; i += 1) {
      burst.push(
        (await daemon.terminations.submit({ source: 'scim', subject: subject(), playbook: 'quick', actor: 'scim:token-1' })).termination,
      );
    }
    expect(burst.map((t) => t.state)).toEqual(['scheduled', 'scheduled', 'scheduled', 'held', 'held']);
    const held = burst.filter((t) => t.state === 'held');
    for (const t of held) {
      const tasks = await waitTasks(t.id, (x) => stateOf(x, 'brake-held') === 'succeeded');
      expect(stateOf(tasks, 'revoke')).toBe('pending');
    }
    expect(messages.filter((m) => (m.body as { type?: string }).type === 'deprovisiond.termination.held').length).toBeGreaterThanOrEqual(2);
    const before = fake.executions('revoke_sessions');
    expect((await daemon.store.listTasks(held[0]!.id)).find((t) => t.stepId === 'revoke')!.state).toBe('pending');
    expect(await api('POST', '/terminations/approve-held', { all: true }, VIEWER).then((r) => r.status)).toBe(403);
    const approved = await api('POST', '/terminations/approve-held', { all: true });
    expect(approved.status).toBe(200);
    expect(approved.body.approved.sort()).toEqual(held.map((t) => t.id).sort());
    for (const t of held) await waitTasks(t.id, (x) => stateOf(x, 'revoke') === 'succeeded');
    expect(fake.executions('revoke_sessions')).toBe(before + held.length);
    const audit = await daemon.store.listAuditOf(held[0]!.id);
    expect(audit.find((e) => e.action === 'termination.approved')?.actor).toBe('admin:ops');
  });
});
