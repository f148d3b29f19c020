/**
 * Legal holds through the admin API and the CLI (issue 29): a hold keeps a subject's delete
 * from running, visibly (the termination shows it, a gauge counts it), never the revocation;
 * releasing it lets the delete run; every step is audited with the operator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.ts';
import { OPERATOR_TOKEN, VIEWER_TOKEN, startTestDaemon, uniqueSubject, type TestDaemon } from './helpers/admin-daemon.ts';
import { pollUntil } from './helpers/poll.ts';

let t: TestDaemon;

beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t?.stop();
});

function cli(token = OPERATOR_TOKEN) {
  const io = {
    out: '',
    err: '',
    env: { DEPROVISIOND_URL: t.url, DEPROVISIOND_TOKEN: token },
  };
  return {
    io,
    run: (args: string[]) =>
      runCli(args, { env: io.env, out: { write: (x: string) => void (io.out += x) }, err: { write: (x: string) => void (io.err += x) } }),
  };
}

const gauge = async (name: string) => {
  const text = (await t.api('GET', '/metrics', { token: OPERATOR_TOKEN })).text;
  const lines = text.split('\n').filter((l) => l.startsWith(name));
  return lines.reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
};

describe('legal holds', () => {
  it('keeps the delete, never the revocation, shows it, and lets it run once released', async () => {
    const subject = uniqueSubject('hold');
    // Named by email before any termination exists: the later termination is covered.
    const op = cli();
    expect(await op.run(['hold', '--email', subject.emails[0]!.toUpperCase(), '--reason', 'litigation, case 2026-114'])).toBe(0);
    expect(op.io.out).toMatch(/legal hold \S+ placed on subject email:hold-/);
    const holdId = /legal hold (\S+) placed/.exec(op.io.out)![1]!;

    const created = await t.api('POST', '/admin/v1/terminations', { body: { subject, playbook: 'retained' } });
    expect(created.status).toBe(201);
    const id = created.body.terminationId as string;
    await pollUntil(
      async () => (await t.daemon.store.listTasks(id)).find((k) => k.stepId === 'revoke')?.state === 'succeeded',
      () => 'the revocation did not run under the hold',
      10_000,
    );
    expect(t.fake.executions('delete_account')).toBe(0);
    const detail = await t.api('GET', `/admin/v1/terminations/${id}`, { token: VIEWER_TOKEN });
    expect(detail.body.heldByLegalHold).toEqual([expect.objectContaining({ stepId: 'delete', holds: [holdId] })]);
    expect(detail.body.legalHolds).toEqual([
      expect.objectContaining({ id: holdId, reason: 'litigation, case 2026-114', placedBy: 'admin:ops' }),
    ]);
    expect(await gauge('deprovisiond_tasks_held_by_legal_hold{')).toBe(1);
    expect(await gauge('deprovisiond_legal_holds_active ')).toBe(1);

    const viewer = cli(VIEWER_TOKEN);
    expect(await viewer.run(['status', id])).toBe(0);
    expect(viewer.io.out).toContain('legal holds in force');
    expect(viewer.io.out).toContain('delete waits for the hold');
    expect(await viewer.run(['holds'])).toBe(0);
    expect(viewer.io.out).toContain(holdId);
    expect(await viewer.run(['release', holdId, '--reason', 'x']), 'a viewer cannot release').toBe(1);

    const noReason = cli();
    expect(await noReason.run(['release', holdId])).toBe(2);
    expect(noReason.io.err).toContain('--reason is required');
    expect(await cli().run(['release', holdId, '--reason', 'case 2026-114 settled'])).toBe(0);
    const again = await t.api('POST', `/admin/v1/holds/${holdId}/release`, { body: { reason: 'twice' } });
    expect(again.status).toBe(409);

    await t.waitFor(id, (x) => x.state === 'completed');
    expect(t.fake.executions('delete_account')).toBe(1);
    // The gauges read the store's statistics, cached for a moment between scrapes.
    await pollUntil(
      async () => (await gauge('deprovisiond_legal_holds_active ')) === 0,
      () => 'the hold still counted as active after its release',
      5_000,
    );

    await t.daemon.store.linkAudit();
    const audit = (await t.daemon.store.listAudit(0, 10_000)).filter((e) => e.data.holdId === holdId);
    expect(audit.map((e) => [e.action, e.actor, e.data.reason])).toEqual([
      ['legal_hold.placed', 'admin:ops', 'litigation, case 2026-114'],
      ['legal_hold.released', 'admin:ops', 'case 2026-114 settled'],
    ]);
  });

  it('checks its input: one target, a reason, a known termination, an operator', async () => {
    const bad = [
      { body: { reason: 'x' }, status: 400 },
      { body: { subject: uniqueSubject('h'), terminationId: 'x', reason: 'x' }, status: 400 },
      { body: { subject: { emails: [] }, reason: 'x' }, status: 400 },
      { body: { terminationId: 'no-such-termination', reason: 'audit' }, status: 404 },
      { body: { subject: uniqueSubject('h'), reason: '' }, status: 400 },
      { body: { subject: uniqueSubject('h'), reason: 'x'.repeat(1001) }, status: 400 },
    ];
    for (const { body, status } of bad) {
      expect((await t.api('POST', '/admin/v1/holds', { body })).status, JSON.stringify(body).slice(0, 80)).toBe(status);
    }
    expect(
      (await t.api('POST', '/admin/v1/holds', { body: { subject: uniqueSubject('h'), reason: 'x' }, token: VIEWER_TOKEN })).status,
    ).toBe(403);
    expect((await t.api('POST', '/admin/v1/holds/nope/release', { body: { reason: 'x' } })).status).toBe(404);
    expect((await t.api('GET', '/admin/v1/holds?active=maybe', { token: VIEWER_TOKEN })).status).toBe(400);
    const both = cli();
    expect(await both.run(['hold', '--email', 'a@example.com', '--termination', 'T', '--reason', 'x'])).toBe(2);
    expect(both.io.err).toContain('not both');
  });
});
