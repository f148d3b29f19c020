/**
 * GET /admin/v1/audit: the audit log a page at a time, in chain order, for viewers; the
 * console's audit page reads it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VIEWER_TOKEN, startTestDaemon, uniqueSubject, type TestDaemon } from './helpers/admin-daemon.ts';

let t: TestDaemon;

beforeAll(async () => {
  t = await startTestDaemon();
  for (const label of ['audit-a', 'audit-b']) {
    const res = await t.api('POST', '/admin/v1/terminations', { body: { subject: uniqueSubject(label) } });
    await t.waitFor(res.body.terminationId, (x) => x.state === 'completed');
  }
  await t.daemon.store.linkAudit();
});
afterAll(async () => {
  await t?.stop();
});

const page = (query: string, token: string | null = VIEWER_TOKEN) => t.api('GET', `/admin/v1/audit${query}`, { token });

describe('GET /admin/v1/audit', () => {
  it('pages through the chain in order, each page after the last position of the one before, to the end', async () => {
    const all = (await page('?limit=500')).body;
    expect(all.nextAfter).toBeNull();
    expect(all.items.length).toBeGreaterThan(4);
    expect(all.items.every((e: { linked: boolean; hash: string }) => e.linked && /^[0-9a-f]{64}$/.test(e.hash))).toBe(true);
    expect(all.items.map((e: { action: string }) => e.action)).toEqual(
      expect.arrayContaining(['termination.created', 'termination.completed']),
    );
    expect(all.items.find((e: { action: string }) => e.action === 'termination.created')).toMatchObject({
      actor: 'admin:ops',
      terminationId: expect.any(String),
    });

    const seen: number[] = [];
    let after = 0;
    for (let pages = 0; pages < 100; pages += 1) {
      const res = await page(`?after=${after}&limit=3`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.items.map((e: { position: number }) => e.position));
      if (res.body.nextAfter === null) break;
      after = res.body.nextAfter;
    }
    expect(seen).toEqual(all.items.map((e: { position: number }) => e.position));
  });

  it('refuses a bad page (400) and a caller without a token (401)', async () => {
    for (const q of ['?limit=0', '?limit=501', '?after=-1', '?after=x', '?other=1']) expect((await page(q)).status, q).toBe(400);
    expect((await page('', null)).status).toBe(401);
  });
});
