/** A task is named in admin paths by its task id or by its step name, the name `status` prints. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError } from '../providers/contract.ts';
import { startTestDaemon, uniqueSubject, type TestDaemon } from './helpers/admin-daemon.ts';

let t: TestDaemon;

beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t?.stop();
});

async function failedTermination() {
  t.fake.script('revoke_sessions', { kind: 'throw', error: new PermanentError('missing permission: users.signout') });
  const res = await t.api('POST', '/admin/v1/terminations', { body: { subject: uniqueSubject('step'), playbook: 'quick' } });
  expect(res.status).toBe(201);
  return t.waitFor(res.body.terminationId, (x) => x.state === 'failed');
}

describe('task references by step name', () => {
  it('replays a failed task named by its step', async () => {
    const termination = await failedTermination();
    const res = await t.api('POST', `/admin/v1/terminations/${termination.id}/tasks/revoke/replay`);
    expect(res.status).toBe(200);
    expect(res.body.replayed).toEqual([expect.objectContaining({ stepId: 'revoke', state: 'pending' })]);
    await t.waitFor(termination.id, (x) => x.state === 'completed');
  });

  it('completes by step name (a non-manual step is refused as such, not as unknown)', async () => {
    const termination = await failedTermination();
    const res = await t.api('POST', `/admin/v1/terminations/${termination.id}/tasks/revoke/complete`, {
      body: { outcome: 'done', reason: 'x' },
    });
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('not a manual task');
  });

  it('answers 404 naming both readings when neither a task id nor a step name matches', async () => {
    const termination = await failedTermination();
    for (const ref of ['no-such-step', randomUUID()]) {
      const res = await t.api('POST', `/admin/v1/terminations/${termination.id}/tasks/${ref}/replay`);
      expect(res.status).toBe(404);
      expect(res.body.error).toBe(`termination ${termination.id} has no task with id or step name "${ref}"`);
    }
  });

  it('never reaches into another termination, by id or by step', async () => {
    const first = await failedTermination();
    const second = await failedTermination();
    const [task] = await t.daemon.store.listTasks(first.id);
    const res = await t.api('POST', `/admin/v1/terminations/${second.id}/tasks/${task!.id}/replay`);
    expect(res.status).toBe(404);
    // The step name resolves inside the named termination only.
    const own = await t.api('POST', `/admin/v1/terminations/${second.id}/tasks/revoke/replay`);
    expect(own.body.replayed[0].terminationId).toBe(second.id);
  });
});
