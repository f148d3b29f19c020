/**
 * GET /admin/v1/overview: the console's landing numbers, read from the store, for any
 * authenticated caller and nobody else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError } from '../providers/contract.ts';
import { percentile } from '../src/admin/overview.ts';
import { VIEWER_TOKEN, startTestDaemon, uniqueSubject, type TestDaemon } from './helpers/admin-daemon.ts';

let t: TestDaemon;

beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t?.stop();
});

async function terminate(label: string) {
  const res = await t.api('POST', '/admin/v1/terminations', { body: { subject: uniqueSubject(label) } });
  expect(res.status).toBe(201);
  return res.body.terminationId as string;
}

describe('GET /admin/v1/overview', () => {
  it('counts open terminations and failed tasks, and measures time to revoke over the revoked ones', async () => {
    const empty = await t.api('GET', '/admin/v1/overview', { token: VIEWER_TOKEN });
    expect(empty.status).toBe(200);
    expect(empty.body).toMatchObject({
      openTerminations: 0,
      failedTasks: 0,
      heldTerminations: 0,
      manualOverdue: 0,
      timeToRevoke: { count: 0, p50Ms: null, p99Ms: null },
    });

    const done = await t.waitFor(await terminate('overview-ok'), (x) => x.state === 'completed');
    t.fake.script('revoke_sessions', { kind: 'throw', error: new PermanentError('missing permission') });
    await t.waitFor(await terminate('overview-failed'), (x) => x.state === 'failed');

    const res = await t.api('GET', '/admin/v1/overview', { token: VIEWER_TOKEN });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      openTerminations: 1,
      failedTasks: 1,
      heldTerminations: 0,
      terminationsByState: { completed: 1, failed: 1 },
    });
    // Only the completed one was revoked: its time to revoke is both percentiles.
    const ms = done.revokedAt!.getTime() - Math.max(done.effectiveAt.getTime(), done.requestedAt.getTime());
    expect(res.body.timeToRevoke).toMatchObject({ count: 1, p50Ms: ms, p99Ms: ms });
    expect(Date.parse(res.body.generatedAt) - Date.parse(res.body.timeToRevoke.since)).toBe(24 * 3_600_000);
  });

  it('leaves out terminations revoked before the window', async () => {
    expect(await t.daemon.store.revokeTimes(new Date(Date.now() + 60_000))).toEqual([]);
    expect((await t.daemon.store.revokeTimes(new Date(0))).length).toBeGreaterThan(0);
  });

  it('answers 401 without a token', async () => {
    expect((await t.api('GET', '/admin/v1/overview', { token: null })).status).toBe(401);
  });
});

describe('percentile', () => {
  it('is nearest-rank: a value that occurred', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([1, 1000], 50)).toBe(1);
    expect(percentile([], 50)).toBeNull();
  });
});
