/**
 * POST /admin/v1/terminations/{id}/tasks/{taskId}/waive: an operator settles a failed task
 * with a reason, without cancelling the termination. Audited, shown as waived (never as
 * verified) in the evidence, and the termination ends `completed_with_waivers`.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError } from '../providers/contract.ts';
import { runCli } from '../src/cli/main.ts';
import { OPERATOR_TOKEN, VIEWER_TOKEN, startTestDaemon, uniqueSubject, type TestDaemon } from './helpers/admin-daemon.ts';

let t: TestDaemon;

beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t?.stop();
});

/** The default playbook with its first step failed for good: `disable` waits behind `revoke`. */
async function failedRevoke() {
  t.fake.script('revoke_sessions', { kind: 'throw', error: new PermanentError('missing permission: users.signout') });
  const res = await t.api('POST', '/admin/v1/terminations', { body: { subject: uniqueSubject('waive') } });
  expect(res.status).toBe(201);
  const termination = await t.waitFor(res.body.terminationId, (x) => x.state === 'failed');
  const tasks = await t.daemon.store.listTasks(termination.id);
  return { termination, revoke: tasks.find((x) => x.stepId === 'revoke')!, disable: tasks.find((x) => x.stepId === 'disable')! };
}

const waive = (terminationId: string, taskId: string, body: unknown, token: string | null = OPERATOR_TOKEN) =>
  t.api('POST', `/admin/v1/terminations/${terminationId}/tasks/${taskId}/waive`, { body, token });

describe('POST /admin/v1/terminations/{id}/tasks/{taskId}/waive', () => {
  it('settles a failed task with the reason: audited, its dependant runs, the termination completes with waivers, the evidence says waived', async () => {
    const { termination, revoke, disable } = await failedRevoke();
    expect(termination.finishedAt).not.toBeNull();
    const disablesBefore = t.fake.executions('disable_account');
    const withFailed = async () =>
      (await t.api('GET', '/admin/v1/terminations?failedTasks=true&limit=500', { token: VIEWER_TOKEN })).body.items.map(
        (x: { id: string }) => x.id,
      );
    expect(await withFailed()).toContain(termination.id);
    let listed = '';
    const io = {
      env: { DEPROVISIOND_URL: t.url, DEPROVISIOND_TOKEN: VIEWER_TOKEN },
      out: { write: (x: string) => (listed += x) },
      err: { write: () => undefined },
    };
    expect(await runCli(['list', '--failed-tasks', '--limit', '500', '--json'], io)).toBe(0);
    expect(JSON.parse(listed).items.map((x: { id: string }) => x.id)).toContain(termination.id);

    const res = await waive(termination.id, revoke.id, { reason: 'sessions ended by hand in the console, ticket SEC-42' });
    expect(res.status).toBe(200);
    expect(res.body.task).toMatchObject({
      id: revoke.id,
      state: 'waived',
      evidence: { waivedBy: 'admin:ops', reason: 'sessions ended by hand in the console, ticket SEC-42' },
    });
    expect(res.body.termination).toMatchObject({ id: termination.id, state: 'running', finishedAt: null });
    expect(await withFailed()).not.toContain(termination.id);

    const done = await t.waitFor(termination.id, (x) => x.state === 'completed_with_waivers');
    expect(done.finishedAt).not.toBeNull();
    expect((await t.daemon.store.getTask(disable.id))!.state).toBe('succeeded');
    expect(t.fake.executions('disable_account')).toBe(disablesBefore + 1);
    const audit = (await t.daemon.store.listAuditOf(termination.id)).find((e) => e.action === 'task.waived');
    expect(audit).toMatchObject({
      actor: 'admin:ops',
      taskId: revoke.id,
      data: { reason: 'sessions ended by hand in the console, ticket SEC-42' },
    });

    const evidence = await t.api('GET', `/admin/v1/terminations/${termination.id}/evidence`, { token: VIEWER_TOKEN });
    expect(evidence.body.termination.state).toBe('completed_with_waivers');
    expect(evidence.body.tasks.find((x: { step: string }) => x.step === 'revoke')).toMatchObject({ state: 'waived', verifiedBy: null });
    const page = await t.api('GET', `/admin/v1/terminations/${termination.id}/evidence?format=html`, { token: VIEWER_TOKEN });
    expect(page.text).toContain('Not verified: waived by an operator (admin:ops: sessions ended by hand in the console, ticket SEC-42)');

    // A waived task is settled: it cannot be waived or replayed again.
    const again = await waive(termination.id, revoke.id, { reason: 'twice' });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatch(/^task is waived; only a failed task can be waived/);
    expect((await t.api('POST', `/admin/v1/terminations/${termination.id}/tasks/${revoke.id}/replay`)).status).toBe(409);
  });

  it('answers 400 without a reason, 403 for a viewer, 401 without a token, and changes nothing', async () => {
    const { termination, revoke } = await failedRevoke();
    for (const body of [{}, { reason: '   ' }, { reason: 'ok', extra: 1 }]) {
      const res = await waive(termination.id, revoke.id, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect((await waive(termination.id, revoke.id, { reason: 'x' }, VIEWER_TOKEN)).status).toBe(403);
    expect((await waive(termination.id, revoke.id, { reason: 'x' }, null)).status).toBe(401);
    expect((await t.daemon.store.getTask(revoke.id))!.state).toBe('failed');
    expect((await t.daemon.store.listAuditOf(termination.id)).map((e) => e.action)).not.toContain('task.waived');
  });

  it('answers 409 for a task that did not fail and for a cancelled termination, 404 for unknown ones', async () => {
    const { termination, revoke, disable } = await failedRevoke();
    const pending = await waive(termination.id, disable.id, { reason: 'not needed' });
    expect(pending.status).toBe(409);
    expect(pending.body.error).toMatch(/^task is pending; only a failed task can be waived/);
    expect((await waive(randomUUID(), revoke.id, { reason: 'x' })).status).toBe(404);
    expect((await waive(termination.id, randomUUID(), { reason: 'x' })).status).toBe(404);

    expect((await t.api('POST', `/admin/v1/terminations/${termination.id}/cancel`)).status).toBe(200);
    const cancelled = await waive(termination.id, revoke.id, { reason: 'x' });
    expect(cancelled.status).toBe(409);
    expect(cancelled.body.error).toBe('termination is cancelled; its tasks can no longer be waived');
  });

  it("is a CLI command: deprovisiond waive ID STEP --reason R (exit 2 without a reason, 1 with the API's refusal)", async () => {
    const { termination, revoke, disable } = await failedRevoke();
    let out = '';
    let err = '';
    const io = {
      env: { DEPROVISIOND_URL: t.url, DEPROVISIOND_TOKEN: OPERATOR_TOKEN },
      out: { write: (x: string) => (out += x) },
      err: { write: (x: string) => (err += x) },
    };
    expect(await runCli(['waive', termination.id, 'revoke'], io)).toBe(2);
    expect(err).toContain('--reason is required');
    err = '';
    expect(await runCli(['waive', termination.id, disable.id, '--reason', 'not needed'], io)).toBe(1);
    expect(err).toContain('task is pending; only a failed task can be waived');
    expect(err).toContain('(HTTP 409)');
    // The step name, as `status` prints it, names the task as well as its id.
    expect(await runCli(['waive', termination.id, 'revoke', '--reason', 'ended by hand'], io)).toBe(0);
    expect(out).toBe(`task revoke (${revoke.id}) waived; termination ${termination.id} running\n`);
    expect((await t.daemon.store.listAuditOf(termination.id)).find((e) => e.action === 'task.waived')).toMatchObject({
      actor: 'admin:ops',
      data: { reason: 'ended by hand' },
    });
  });
});
