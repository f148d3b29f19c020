import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WEBHOOK_SECRETS, signedHeaders, startTestDaemon, uniqueSubject, type TestDaemon } from './helpers/admin-daemon.ts';
import { sqliteBusy, sqliteIoError } from './helpers/store-faults.ts';

let t: TestDaemon;

beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t?.stop();
});

async function deliver(payload: unknown, options: Parameters<typeof signedHeaders>[1] & { raw?: string } = {}) {
  const raw = options.raw ?? JSON.stringify(payload);
  const headers = signedHeaders(raw, options);
  return { ...(await t.api('POST', '/webhooks/termination', { token: null, raw, headers })), id: headers['webhook-id']! };
}

async function storedFor(subject: { externalId: string }) {
  const page = await t.daemon.store.listTerminations({ subjectKey: `ext:${subject.externalId}`, limit: 10 });
  return page.items;
}

describe('POST /webhooks/termination', () => {
  it('accepts a validly signed termination, stores it durably, and answers with its id', async () => {
    const subject = uniqueSubject('valid');
    const res = await deliver({ subject, reason: 'resigned' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ terminationId: expect.any(String), state: 'scheduled', duplicate: false, outcome: 'created' });
    const stored = await t.daemon.store.getTermination(res.body.terminationId);
    expect(stored).toMatchObject({
      source: 'webhook',
      sourceEventId: res.id,
      reason: 'resigned',
      playbook: 'default',
      createdBy: `webhook:${res.id}`,
    });
    // The engine takes it from there.
    await t.waitFor(res.body.terminationId, (x) => x.state === 'completed');
  });

  it('accepts a client organization as the subject, filed under org:<id>, and refuses one without a domain', async () => {
    const id = `org-${randomBytes(4).toString('hex')}`;
    const res = await deliver({
      subject: { organization: { id, name: 'Acme', domains: ['acme.example'], contacts: ['it@acme.example'] } },
    });
    expect(res.status).toBe(201);
    const stored = await t.daemon.store.getTermination(res.body.terminationId);
    expect(stored?.subjectKey).toBe(`org:${id}`);
    expect(stored?.subject.organization).toEqual({ id, name: 'Acme', domains: ['acme.example'], contacts: ['it@acme.example'] });
    const bad = await deliver({ subject: { organization: { id: `${id}-b`, domains: [] } } });
    expect(bad.status).toBe(400);
  });

  it('refuses a signature made with an unknown secret, and stores nothing', async () => {
    const subject = uniqueSubject('wrong');
    const res = await deliver({ subject }, { secret: `whsec_${randomBytes(24).toString('base64')}` });
    expect(res.status).toBe(401);
    expect(res.body.error).toMatch(/signature/);
    expect(await storedFor(subject)).toEqual([]);
    expect(await t.daemon.store.webhookDeliveries.get(res.id)).toBeNull();
  });

  it('accepts the secret being rotated out, and a signature list carrying several v1 entries', async () => {
    const old = await deliver({ subject: uniqueSubject('rotated') }, { secret: WEBHOOK_SECRETS[1] });
    expect(old.status).toBe(201);
    const both = await deliver({ subject: uniqueSubject('several') }, { extraSignatures: ['v1,bm90LWEtc2lnbmF0dXJl', 'v2,whatever'] });
    expect(both.status).toBe(201);
  });

  it('refuses timestamps outside the 5-minute tolerance', async () => {
    const subject = uniqueSubject('expired');
    const stale = await deliver({ subject }, { at: new Date(Date.now() - 6 * 60_000) });
    expect(stale.status).toBe(401);
    const early = await deliver({ subject }, { at: new Date(Date.now() + 6 * 60_000) });
    expect(early.status).toBe(401);
    // Inside the tolerance is fine.
    const late = await deliver({ subject }, { at: new Date(Date.now() - 4 * 60_000) });
    expect(late.status).toBe(201);
  });

  it('refuses a body changed after signing, and missing headers', async () => {
    const subject = uniqueSubject('tampered');
    const raw = JSON.stringify({ subject, reason: 'resigned' });
    const headers = signedHeaders(raw);
    const tampered = await t.api('POST', '/webhooks/termination', { token: null, raw: raw.replace('resigned', 'fired!!!'), headers });
    expect(tampered.status).toBe(401);
    const unsigned = await t.api('POST', '/webhooks/termination', { token: null, raw, headers: { 'content-type': 'application/json' } });
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.error).toMatch(/webhook-signature/);
    expect(await storedFor(subject)).toEqual([]);
  });

  it('answers a redelivery (same id, same body) with the existing termination', async () => {
    const subject = uniqueSubject('replay');
    const raw = JSON.stringify({ subject });
    const id = `msg_${randomBytes(6).toString('hex')}`;
    const first = await deliver(null, { raw, id });
    // A sender retrying after a timeout signs again, with a new timestamp.
    const again = await deliver(null, { raw, id, at: new Date(Date.now() - 1000) });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ terminationId: first.body.terminationId, state: expect.any(String), duplicate: true, outcome: 'created' });
    expect(await storedFor(subject)).toHaveLength(1);
  });

  it('refuses a reused id with a different body (409) and changes nothing', async () => {
    const subject = uniqueSubject('reused');
    const id = `msg_${randomBytes(6).toString('hex')}`;
    const first = await deliver({ subject, reason: 'a' }, { id });
    const other = await deliver({ subject: uniqueSubject('other'), reason: 'b' }, { id });
    expect(first.status).toBe(201);
    expect(other.status).toBe(409);
    expect(other.body.error).toMatch(/different body/);
    expect((await t.daemon.store.getTermination(first.body.terminationId))?.reason).toBe('a');
  });

  it('joins a second delivery (another id) for a subject with an open termination at the same time: 200, not a duplicate', async () => {
    const subject = uniqueSubject('open');
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const first = await deliver({ subject, effectiveAt: future });
    const second = await deliver({ subject, effectiveAt: future });
    expect(second.status).toBe(200);
    expect(second.body).toEqual({
      terminationId: first.body.terminationId,
      state: 'scheduled',
      duplicate: false,
      outcome: 'joined',
      effectiveAt: future,
    });
    // Its own redelivery is the true repeat.
    const again = await deliver({ subject, effectiveAt: future }, { id: second.id });
    expect(again.body).toEqual({ terminationId: first.body.terminationId, state: 'scheduled', duplicate: true, outcome: 'joined' });
    expect((await t.daemon.store.listAuditOf(first.body.terminationId)).filter((e) => e.action === 'termination.joined')).toHaveLength(1);
  });

  it('brings the open termination forward for an earlier effectiveAt, moving its pending tasks by the same amount', async () => {
    const subject = uniqueSubject('earlier');
    const later = new Date(Date.now() + 7 * 86_400_000);
    const earlier = new Date(Date.now() + 86_400_000);
    const first = await deliver({ subject, effectiveAt: later.toISOString() });
    const second = await deliver({ subject, effectiveAt: earlier.toISOString() });
    expect(second.status).toBe(200);
    expect(second.body).toEqual({
      terminationId: first.body.terminationId,
      state: 'scheduled',
      duplicate: false,
      outcome: 'rescheduled',
      effectiveAt: earlier.toISOString(),
      previousEffectiveAt: later.toISOString(),
    });
    const tasks = await t.daemon.store.listTasks(first.body.terminationId);
    expect(tasks.map((x) => x.notBefore.toISOString())).toEqual([earlier.toISOString(), earlier.toISOString()]);
    expect((await t.daemon.store.listAuditOf(first.body.terminationId)).find((e) => e.action === 'termination.rescheduled')).toMatchObject({
      actor: `webhook:${second.id}`,
      data: { channel: 'webhook', sourceEventId: second.id, from: later.toISOString(), to: earlier.toISOString(), tasksMoved: 2 },
    });
  });

  it('schedules a termination whose effectiveAt lies in the future', async () => {
    const subject = uniqueSubject('future');
    const effectiveAt = new Date(Date.now() + 86_400_000);
    const res = await deliver({ subject, effectiveAt: effectiveAt.toISOString(), playbook: 'quick' });
    expect(res.status).toBe(201);
    expect(res.body.state).toBe('scheduled');
    const tasks = await t.daemon.store.listTasks(res.body.terminationId);
    expect(tasks.map((x) => [x.state, x.notBefore.toISOString()])).toEqual([['pending', effectiveAt.toISOString()]]);
  });

  it('answers 400 naming the field for a bad body, and stores nothing', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ reason: 'x' }, /^subject: /],
      [{ subject: { emails: ['not-an-email'] } }, /^subject\.emails\[0\]: /],
      [{ subject: { emails: [] } }, /^subject: .*identifier/],
      [{ subject: uniqueSubject('bad'), effectiveAt: 'tomorrow' }, /^effectiveAt: /],
      [{ subject: uniqueSubject('bad'), effectiveAt: '2030-01-01T00:00:00' }, /^effectiveAt: /],
      [{ subject: uniqueSubject('bad'), colour: 'red' }, /colour/],
      [{ subject: uniqueSubject('bad'), playbook: 'nope' }, /^playbook: unknown playbook "nope"/],
      [{ type: 'termination.cancelled' }, /^subject: /],
    ];
    for (const [body, message] of cases) {
      const res = await deliver(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toMatch(message);
      expect(await t.daemon.store.webhookDeliveries.get(res.id)).toBeNull();
    }
    const notJson = await deliver(null, { raw: '{"subject":' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toBe('body: invalid JSON');
    expect((await t.daemon.store.listTerminations({ limit: 100 })).items.filter((x) => x.subject.emails[0]?.startsWith('bad-'))).toEqual(
      [],
    );
  });

  it('cancels the open termination of a rehired subject, and answers the redelivery', async () => {
    const subject = uniqueSubject('rehire');
    const scheduled = await deliver({ subject, effectiveAt: new Date(Date.now() + 86_400_000).toISOString() });
    const id = `msg_${randomBytes(6).toString('hex')}`;
    const raw = JSON.stringify({ type: 'termination.cancelled', subject: { externalId: subject.externalId }, reason: 'rehired' });
    const cancel = await deliver(null, { raw, id });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toEqual({
      terminationId: scheduled.body.terminationId,
      state: 'cancelled',
      duplicate: false,
      outcome: 'cancelled',
    });
    const tasks = await t.daemon.store.listTasks(scheduled.body.terminationId);
    expect(tasks.every((x) => x.state === 'cancelled')).toBe(true);
    const again = await deliver(null, { raw, id });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ terminationId: scheduled.body.terminationId, state: 'cancelled', duplicate: true, outcome: 'cancelled' });
    const audit = await t.daemon.store.listAudit(0, 10_000);
    expect(audit.find((e) => e.action === 'termination.cancelled' && e.terminationId === scheduled.body.terminationId)).toMatchObject({
      actor: `webhook:${id}`,
      data: { reason: 'rehired' },
    });
  });

  it('answers 404 to a cancellation for a subject without an open termination', async () => {
    const res = await deliver({ type: 'termination.cancelled', subject: uniqueSubject('nobody') });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatch(/no open termination/);
  });

  it('answers 413 beyond the body limit', async () => {
    const res = await deliver({ subject: uniqueSubject('big'), reason: 'x'.repeat(20_000) });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: 'request body too large' });
  });

  it('answers 503 when the store fails, and the redelivery succeeds once it is back', async () => {
    const subject = uniqueSubject('outage');
    const raw = JSON.stringify({ subject });
    const id = `msg_${randomBytes(6).toString('hex')}`;
    const spy = vi.spyOn(t.daemon.store, 'createTermination').mockRejectedValueOnce(sqliteBusy());
    try {
      const failed = await deliver(null, { raw, id });
      expect(failed.status).toBe(503);
      expect(failed.body).toEqual({ error: 'store unavailable, retry later' });
      expect(await storedFor(subject)).toEqual([]);
    } finally {
      spy.mockRestore();
    }
    const retried = await deliver(null, { raw, id });
    expect(retried.status).toBe(201);
    const read = vi.spyOn(t.daemon.store.webhookDeliveries, 'get').mockRejectedValueOnce(sqliteIoError());
    try {
      expect((await deliver(null, { raw, id })).status).toBe(503);
    } finally {
      read.mockRestore();
    }
  });

  it('writes no secret or signature to logs, responses or the audit log', async () => {
    const raw = JSON.stringify({ subject: uniqueSubject('secrets') });
    const headers = signedHeaders(raw, { secret: `whsec_${randomBytes(24).toString('base64')}` });
    const refused = await t.api('POST', '/webhooks/termination', { token: null, raw, headers });
    const good = signedHeaders(raw);
    await t.api('POST', '/webhooks/termination', { token: null, raw, headers: good });
    const audit = JSON.stringify(await t.daemon.store.listAudit(0, 10_000));
    const logs = t.logs.join('');
    for (const secret of [...WEBHOOK_SECRETS, headers['webhook-signature']!, good['webhook-signature']!]) {
      const needle = secret.replace(/^whsec_/, '').replace(/^v1,/, '');
      expect(logs).not.toContain(needle);
      expect(audit).not.toContain(needle);
      expect(refused.text).not.toContain(needle);
    }
  });
});
