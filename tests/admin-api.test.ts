import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PermanentError } from '../providers/contract.ts';
import { OPERATOR_TOKEN, VIEWER_TOKEN, startTestDaemon, uniqueSubject, type TestDaemon } from './helpers/admin-daemon.ts';
import { connectionLost, connectionRefused, sqliteBusy, sqliteFull, sqliteIoError } from './helpers/store-faults.ts';

let t: TestDaemon;

beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t?.stop();
});

const future = () => new Date(Date.now() + 86_400_000).toISOString();

/** A termination that waits (effective tomorrow), so its state is the test's to change. */
async function scheduled(subject: object = uniqueSubject('sched')) {
  const res = await t.api('POST', '/admin/v1/terminations', { body: { subject, effectiveAt: future(), reason: 'notice period' } });
  expect(res.status).toBe(201);
  return res.body.termination as { id: string; state: string };
}

/** A termination whose revoke task failed (permanent error, one attempt allowed). */
async function failed() {
  t.fake.script('revoke_sessions', { kind: 'throw', error: new PermanentError('missing permission: users.signout') });
  const res = await t.api('POST', '/admin/v1/terminations', { body: { subject: uniqueSubject('fail'), playbook: 'quick' } });
  expect(res.status).toBe(201);
  return t.waitFor(res.body.terminationId, (x) => x.state === 'failed');
}

async function auditFor(terminationId: string) {
  return (await t.daemon.store.listAudit(0, 100_000)).filter((e) => e.terminationId === terminationId);
}

describe('admin API authentication', () => {
  it('answers 401 with a Bearer challenge without a token or with a wrong one', async () => {
    for (const token of [null, 'not-a-configured-token-at-all', `${OPERATOR_TOKEN}x`]) {
      const res = await t.api('GET', '/admin/v1/terminations', { token });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(res.body.error).toMatch(/bearer token/);
    }
  });

  it('answers 401 on every endpoint without a token', async () => {
    const id = randomUUID();
    const endpoints: Array<[string, string]> = [
      ['GET', '/terminations'],
      ['POST', '/terminations'],
      ['GET', `/terminations/${id}`],
      ['POST', `/terminations/${id}/cancel`],
      ['POST', `/terminations/${id}/approve`],
      ['POST', `/terminations/${id}/replay`],
      ['POST', `/terminations/${id}/tasks/${id}/replay`],
      ['POST', `/terminations/${id}/tasks/${id}/complete`],
      ['GET', '/openapi.json'],
    ];
    for (const [method, path] of endpoints) {
      const res = await t.api(method, `/admin/v1${path}`, { token: null, body: method === 'POST' ? {} : undefined });
      expect(res.status, `${method} ${path}`).toBe(401);
    }
  });

  it('lets viewers read and refuses their writes with 403', async () => {
    const termination = await scheduled();
    expect((await t.api('GET', `/admin/v1/terminations/${termination.id}`, { token: VIEWER_TOKEN })).status).toBe(200);
    for (const path of ['cancel', 'approve', 'replay', 'tasks/x/replay', 'tasks/x/complete']) {
      const res = await t.api('POST', `/admin/v1/terminations/${termination.id}/${path}`, { token: VIEWER_TOKEN, body: {} });
      expect(res.status, path).toBe(403);
      expect(res.body.error).toBe('operator role required');
    }
    const create = await t.api('POST', '/admin/v1/terminations', { token: VIEWER_TOKEN, body: { subject: uniqueSubject('viewer') } });
    expect(create.status).toBe(403);
  });

  it('answers unknown admin paths with 404 once authenticated', async () => {
    expect((await t.api('GET', '/admin/v1/nothing-here')).status).toBe(404);
    expect((await t.api('GET', '/admin/v1/nothing-here', { token: null })).status).toBe(401);
  });
});

describe('GET /admin/v1/terminations', () => {
  it('filters by state, subject key or raw identifier, and time', async () => {
    const emailOnly = { emails: [`Raw.${randomUUID()}@example.com`] };
    const a = await scheduled(emailOnly);
    const subject = uniqueSubject('filter');
    const b = await scheduled(subject);
    const ids = async (query: string) =>
      ((await t.api('GET', `/admin/v1/terminations?${query}`, { token: VIEWER_TOKEN })).body.items as Array<{ id: string }>).map(
        (x) => x.id,
      );

    expect(await ids(`subject=${encodeURIComponent(emailOnly.emails[0]!)}`)).toEqual([a.id]);
    expect(await ids(`subject=${encodeURIComponent(`email:${emailOnly.emails[0]!.toLowerCase()}`)}`)).toEqual([a.id]);
    expect(await ids(`subject=${subject.externalId}`)).toEqual([b.id]);
    expect(await ids(`subject=ext:${subject.externalId}&state=cancelled`)).toEqual([]);
    expect(await ids(`subject=ext:${subject.externalId}&state=scheduled`)).toEqual([b.id]);
    const later = new Date(Date.now() + 60_000).toISOString();
    expect(await ids(`subject=ext:${subject.externalId}&since=${encodeURIComponent(later)}`)).toEqual([]);
    expect(await ids(`subject=ext:${subject.externalId}&until=${encodeURIComponent(later)}`)).toEqual([b.id]);
  });

  it('finds a subject by a whole identifier with q (subjects are sealed at rest: no part of a name matches) and filters by source', async () => {
    const mark = randomUUID().slice(0, 8);
    const ada = await scheduled({
      externalId: `HR-${mark}-1`,
      userName: `ada.${mark}@example.com`,
      displayName: `Ada ${mark}`,
      emails: [`ada.${mark}@example.com`],
    });
    const bob = await scheduled({ externalId: `HR-${mark}-2`, emails: [`bob_${mark}@example.com`] });
    const ids = async (query: string) =>
      ((await t.api('GET', `/admin/v1/terminations?${query}`, { token: VIEWER_TOKEN })).body.items as Array<{ id: string }>).map(
        (x) => x.id,
      );

    expect(await ids(`q=HR-${mark}-1`)).toEqual([ada.id]);
    expect(await ids(`q=hr-${mark}`), 'a part of an HRIS id').toEqual([]);
    expect(await ids(`q=${encodeURIComponent(`ADA ${mark.toUpperCase()}`)}`), 'a display name').toEqual([]);
    expect(await ids(`q=${encodeURIComponent(`BOB_${mark}@example.com`)}`)).toEqual([bob.id]);
    expect(await ids(`q=${encodeURIComponent(`bo%${mark}@example.com`)}`)).toEqual([]);
    expect(await ids(`q=${ada.id}`)).toEqual([ada.id]);
    expect(await ids(`q=HR-${mark}-2&source=admin`)).toEqual([bob.id]);
    expect(await ids(`q=HR-${mark}-2&source=scim`)).toEqual([]);
    for (const [query, message] of [
      [`q=${'x'.repeat(201)}`, /^q: /],
      ['q=a%0Ab', /^q: no control characters/],
      ['q=', /^q: /],
      ['source=email', /^source: /],
    ] as const) {
      const res = await t.api('GET', `/admin/v1/terminations?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error).toMatch(message);
    }
  });

  it('pages with limit and cursor, and answers 400 to a bad cursor', async () => {
    for (let i = 0; i < 3; i++) await scheduled();
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await t.api('GET', `/admin/v1/terminations?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((x: { id: string }) => x.id));
      cursor = res.body.nextCursor;
      pages += 1;
    } while (cursor && pages < 100);
    const all = await t.daemon.store.listTerminations({ limit: 1000 });
    expect(seen).toEqual(all.items.map((x) => x.id));
    expect(pages).toBeGreaterThan(1);

    const bad = await t.api('GET', '/admin/v1/terminations?cursor=bm90LWEtY3Vyc29y');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('cursor: invalid pagination cursor');
  });

  it('answers 400 naming the query parameter', async () => {
    const cases: Array<[string, RegExp]> = [
      ['state=gone', /^state: /],
      ['limit=0', /^limit: /],
      ['limit=abc', /^limit: /],
      ['since=yesterday', /^since: /],
      ['colour=red', /colour/],
    ];
    for (const [query, message] of cases) {
      const res = await t.api('GET', `/admin/v1/terminations?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error).toMatch(message);
    }
  });

  it('answers 503 when the store fails', async () => {
    const spy = vi.spyOn(t.daemon.store, 'listTerminations').mockRejectedValueOnce(connectionLost());
    try {
      const res = await t.api('GET', '/admin/v1/terminations');
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ error: 'store unavailable, retry later' });
      expect(res.headers.get('retry-after')).toBe('5');
    } finally {
      spy.mockRestore();
    }
  });
});

describe('GET /admin/v1/terminations/{id}', () => {
  it('returns the termination with tasks, attempts, errors and evidence', async () => {
    const res = await t.api('POST', '/admin/v1/terminations', { body: { subject: uniqueSubject('detail') } });
    await t.waitFor(res.body.terminationId, (x) => x.state === 'completed');
    const detail = await t.api('GET', `/admin/v1/terminations/${res.body.terminationId}`, { token: VIEWER_TOKEN });
    expect(detail.status).toBe(200);
    expect(detail.body.termination).toMatchObject({ id: res.body.terminationId, state: 'completed', createdBy: 'admin:ops' });
    expect(detail.body.tasks.map((x: { stepId: string; state: string }) => `${x.stepId}=${x.state}`).sort()).toEqual([
      'disable=succeeded',
      'revoke=succeeded',
    ]);
    expect(detail.body.attempts.length).toBeGreaterThanOrEqual(2);
    expect(detail.body.evidence.map((e: { stepId: string }) => e.stepId).sort()).toEqual(['disable', 'revoke']);
    expect(detail.body.errors).toEqual([]);

    const broken = await failed();
    const failedDetail = await t.api('GET', `/admin/v1/terminations/${broken.id}`);
    expect(failedDetail.body.errors).toEqual([
      expect.objectContaining({ stepId: 'revoke', state: 'failed', kind: 'permanent', message: 'missing permission: users.signout' }),
    ]);
  });

  it('answers 404 for an unknown id and 503 when the store fails', async () => {
    expect((await t.api('GET', `/admin/v1/terminations/${randomUUID()}`)).status).toBe(404);
    const spy = vi.spyOn(t.daemon.store, 'getTermination').mockRejectedValueOnce(sqliteIoError());
    try {
      expect((await t.api('GET', `/admin/v1/terminations/${randomUUID()}`)).status).toBe(503);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('GET /admin/v1/terminations/{id}/evidence', () => {
  it('sends the document as a file named after the termination with download=true, JSON or printable HTML', async () => {
    const { id } = await scheduled();
    const url = `/admin/v1/terminations/${id}/evidence`;
    const inline = await t.api('GET', url, { token: VIEWER_TOKEN });
    expect(inline.status).toBe(200);
    expect(inline.headers.get('content-disposition')).toBeNull();

    const json = await t.api('GET', `${url}?format=json&download=true`, { token: VIEWER_TOKEN });
    expect(json.status).toBe(200);
    expect(json.headers.get('content-disposition')).toBe(`attachment; filename=evidence-${id}.json`);
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    expect(json.body).toMatchObject({ schema: 'deprovisiond.evidence/v1', termination: { id, state: 'scheduled' } });

    const html = await t.api('GET', `${url}?format=html&download=true`, { token: VIEWER_TOKEN });
    expect(html.headers.get('content-disposition')).toBe(`attachment; filename=evidence-${id}.html`);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.text).toContain(id);

    for (const [query, message] of [
      ['format=pdf', /^format: /],
      ['download=yes', /^download: /],
      ['colour=red', /colour/],
    ] as const) {
      const res = await t.api('GET', `${url}?${query}`, { token: VIEWER_TOKEN });
      expect(res.status, query).toBe(400);
      expect(res.body.error).toMatch(message);
    }
  });
});

describe('POST /admin/v1/terminations', () => {
  it('creates a termination audited with the operator; the same request again (no key) joins it, not a duplicate', async () => {
    const subject = uniqueSubject('create');
    const body = { subject, effectiveAt: future(), playbook: 'quick', reason: 'contract ended' };
    const first = await t.api('POST', '/admin/v1/terminations', { body });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      state: 'scheduled',
      duplicate: false,
      outcome: 'created',
      termination: { source: 'admin', playbook: 'quick', reason: 'contract ended' },
    });
    const again = await t.api('POST', '/admin/v1/terminations', { body });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ terminationId: first.body.terminationId, duplicate: false, outcome: 'joined' });
    const [created] = await auditFor(first.body.terminationId);
    expect(created).toMatchObject({ action: 'termination.created', actor: 'admin:ops' });
  });

  it('answers a repeat of an Idempotency-Key with the same body (however written) with the earlier answer', async () => {
    const key = randomUUID();
    const subject = uniqueSubject('idem');
    const effectiveAt = new Date(Date.now() + 86_400_000);
    const first = await t.api('POST', '/admin/v1/terminations', {
      body: { subject, effectiveAt: effectiveAt.toISOString() },
      headers: { 'idempotency-key': key },
    });
    expect(first.status).toBe(201);
    expect(first.body.termination.sourceEventId).toBe(key);
    // Same request: keys in another order, the instant with an offset instead of Z.
    const reordered = {
      effectiveAt: effectiveAt.toISOString().replace('Z', '+00:00'),
      subject: { emails: subject.emails, userName: subject.userName, externalId: subject.externalId },
    };
    const again = await t.api('POST', '/admin/v1/terminations', { body: reordered, headers: { 'idempotency-key': key } });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ terminationId: first.body.terminationId, duplicate: true, outcome: 'created' });
    // A key that joined an open termination is answered the same way on its repeat.
    const joinKey = randomUUID();
    const joined = await t.api('POST', '/admin/v1/terminations', { body: { subject }, headers: { 'idempotency-key': joinKey } });
    expect(joined.body).toMatchObject({ terminationId: first.body.terminationId, duplicate: false, outcome: 'rescheduled' });
    const joinedAgain = await t.api('POST', '/admin/v1/terminations', { body: { subject }, headers: { 'idempotency-key': joinKey } });
    expect(joinedAgain.body).toMatchObject({ terminationId: first.body.terminationId, duplicate: true, outcome: 'rescheduled' });
    expect((await auditFor(first.body.terminationId)).filter((e) => e.action === 'termination.rescheduled')).toHaveLength(1);
  });

  it('returns the plan of a dry run and writes nothing, for viewers too', async () => {
    const subject = uniqueSubject('dry');
    const effectiveAt = future();
    for (const [path, body, token] of [
      ['/admin/v1/terminations?dryRun=true', { subject, effectiveAt }, VIEWER_TOKEN],
      ['/admin/v1/terminations', { subject, effectiveAt, dryRun: true }, OPERATOR_TOKEN],
    ] as const) {
      const res = await t.api('POST', path, { body, token });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        dryRun: true,
        existingTerminationId: null,
        plan: { subjectKey: `ext:${subject.externalId}`, playbook: 'default', effectiveAt },
      });
      expect(res.body.plan.tasks.map((x: { stepId: string }) => x.stepId)).toEqual(['revoke', 'disable']);
    }
    expect((await t.daemon.store.listTerminations({ subjectKey: `ext:${subject.externalId}`, limit: 5 })).items).toEqual([]);
  });

  it('answers 400 naming the field, 400 for an unknown playbook, 413 beyond the body limit; nothing stored', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{}, /^subject: /],
      [{ subject: { userName: '' } }, /^subject\.userName: /],
      [{ subject: uniqueSubject('x'), dryRun: 'yes' }, /^dryRun: /],
      [{ subject: uniqueSubject('x'), playbook: 'nope' }, /^playbook: unknown playbook "nope"; expected one of: default, quick/],
    ];
    for (const [body, message] of cases) {
      const res = await t.api('POST', '/admin/v1/terminations', { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toMatch(message);
      expect(Array.isArray(res.body.details) || res.body.details === undefined).toBe(true);
    }
    const badJson = await t.api('POST', '/admin/v1/terminations', { raw: '{', headers: { 'content-type': 'application/json' } });
    expect(badJson.status).toBe(400);
    expect(badJson.body.error).toBe('body: invalid JSON');
    const big = await t.api('POST', '/admin/v1/terminations', { body: { subject: uniqueSubject('big'), reason: 'x'.repeat(20_000) } });
    expect(big.status).toBe(413);
    expect(big.body).toEqual({ error: 'request body too large' });
    const badQuery = await t.api('POST', '/admin/v1/terminations?dryRun=maybe', { body: { subject: uniqueSubject('q') } });
    expect(badQuery.status).toBe(400);
    expect(badQuery.body.error).toMatch(/^dryRun: /);
  });

  it('answers 503 when the store fails', async () => {
    const subject = uniqueSubject('outage');
    const spy = vi.spyOn(t.daemon.store, 'createTermination').mockRejectedValueOnce(sqliteFull());
    try {
      expect((await t.api('POST', '/admin/v1/terminations', { body: { subject } })).status).toBe(503);
    } finally {
      spy.mockRestore();
    }
    expect((await t.daemon.store.listTerminations({ subjectKey: `ext:${subject.externalId}`, limit: 5 })).items).toEqual([]);
  });
});

describe('POST /admin/v1/terminations/{id}/cancel', () => {
  it('cancels an open termination and its tasks, audited with the operator and reason', async () => {
    const termination = await scheduled();
    const res = await t.api('POST', `/admin/v1/terminations/${termination.id}/cancel`, { body: { reason: 'rehired' } });
    expect(res.status).toBe(200);
    expect(res.body.termination.state).toBe('cancelled');
    expect((await t.daemon.store.listTasks(termination.id)).every((x) => x.state === 'cancelled')).toBe(true);
    expect((await auditFor(termination.id)).find((e) => e.action === 'termination.cancelled')).toMatchObject({
      actor: 'admin:ops',
      data: { reason: 'rehired' },
    });

    const again = await t.api('POST', `/admin/v1/terminations/${termination.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatch(/cancelled; it can no longer be cancelled/);
  });

  it('answers 404, 400 and 503', async () => {
    expect((await t.api('POST', `/admin/v1/terminations/${randomUUID()}/cancel`)).status).toBe(404);
    const termination = await scheduled();
    const bad = await t.api('POST', `/admin/v1/terminations/${termination.id}/cancel`, { body: { reason: 42 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^reason: /);
    const spy = vi.spyOn(t.daemon.store, 'cancelTermination').mockRejectedValueOnce(sqliteBusy());
    try {
      expect((await t.api('POST', `/admin/v1/terminations/${termination.id}/cancel`)).status).toBe(503);
    } finally {
      spy.mockRestore();
    }
    expect((await t.daemon.store.getTermination(termination.id))?.state).toBe('scheduled');
  });
});

describe('POST /admin/v1/terminations/{id}/approve', () => {
  it('releases a held termination, audited; 409 when not held; 404 when unknown', async () => {
    const id = randomUUID();
    const subject = uniqueSubject('held');
    const now = new Date();
    await t.daemon.store.createTermination(
      {
        id,
        source: 'admin',
        sourceEventId: null,
        subjectKey: `ext:${subject.externalId}`,
        subject,
        reason: null,
        playbook: 'quick',
        state: 'held',
        requestedAt: now,
        effectiveAt: now,
        createdBy: 'test',
      },
      [
        {
          id: randomUUID(),
          stepId: 'revoke',
          provider: 'fake',
          action: 'revoke_sessions',
          params: {},
          critical: true,
          dependsOn: [],
          notBefore: now,
        },
      ],
    );
    const res = await t.api('POST', `/admin/v1/terminations/${id}/approve`);
    expect(res.status).toBe(200);
    expect(res.body.termination.state).toBe('scheduled');
    expect((await auditFor(id)).find((e) => e.action === 'termination.approved')?.actor).toBe('admin:ops');
    await t.waitFor(id, (x) => x.state === 'completed');

    const again = await t.api('POST', `/admin/v1/terminations/${id}/approve`);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatch(/only held terminations/);
    expect((await t.api('POST', `/admin/v1/terminations/${randomUUID()}/approve`)).status).toBe(404);
    const spy = vi.spyOn(t.daemon.store, 'getTermination').mockRejectedValueOnce(connectionRefused());
    try {
      expect((await t.api('POST', `/admin/v1/terminations/${id}/approve`)).status).toBe(503);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('POST /admin/v1/terminations/{id}/replay and .../tasks/{taskId}/replay', () => {
  it('replays every failed task, audited with the operator, until the termination completes', async () => {
    const termination = await failed();
    const res = await t.api('POST', `/admin/v1/terminations/${termination.id}/replay`);
    expect(res.status).toBe(200);
    expect(res.body.replayed.map((x: { stepId: string }) => x.stepId)).toEqual(['revoke']);
    await t.waitFor(termination.id, (x) => x.state === 'completed');
    expect((await auditFor(termination.id)).find((e) => e.action === 'task.replayed')?.actor).toBe('admin:ops');

    const nothing = await t.api('POST', `/admin/v1/terminations/${termination.id}/replay`);
    expect(nothing.status).toBe(409);
    expect(nothing.body.error).toBe('no failed tasks to replay');
  });

  it('replays one failed task; 409 for a task that did not fail; 404 for a task of another termination', async () => {
    const termination = await failed();
    const [task] = await t.daemon.store.listTasks(termination.id);
    const other = await scheduled();
    const [otherTask] = await t.daemon.store.listTasks(other.id);

    expect((await t.api('POST', `/admin/v1/terminations/${termination.id}/tasks/${otherTask!.id}/replay`)).status).toBe(404);
    expect((await t.api('POST', `/admin/v1/terminations/${randomUUID()}/tasks/${task!.id}/replay`)).status).toBe(404);
    const pending = await t.api('POST', `/admin/v1/terminations/${other.id}/tasks/${otherTask!.id}/replay`);
    expect(pending.status).toBe(409);
    expect(pending.body.error).toBe('task is pending; only failed tasks can be replayed');

    const res = await t.api('POST', `/admin/v1/terminations/${termination.id}/tasks/${task!.id}/replay`);
    expect(res.status).toBe(200);
    expect(res.body.replayed).toEqual([expect.objectContaining({ id: task!.id, state: 'pending' })]);
    await t.waitFor(termination.id, (x) => x.state === 'completed');
  });

  it('refuses to replay the tasks of a cancelled termination, and answers 503 on store failure', async () => {
    const termination = await failed();
    expect((await t.api('POST', `/admin/v1/terminations/${termination.id}/cancel`)).status).toBe(200);
    const res = await t.api('POST', `/admin/v1/terminations/${termination.id}/replay`);
    expect(res.status).toBe(409);
    const broken = await failed();
    const spy = vi.spyOn(t.daemon.store, 'replayFailedTasks').mockRejectedValueOnce(sqliteBusy());
    try {
      expect((await t.api('POST', `/admin/v1/terminations/${broken.id}/replay`)).status).toBe(503);
    } finally {
      spy.mockRestore();
    }
    expect((await t.daemon.store.getTermination(broken.id))?.state).toBe('failed');
  });
});

describe('POST /admin/v1/terminations/{id}/tasks/{taskId}/complete', () => {
  it('answers 409 for a task that is not manual, 400 for a bad body, 404 for an unknown task', async () => {
    const termination = await scheduled();
    const [task] = await t.daemon.store.listTasks(termination.id);
    const path = `/admin/v1/terminations/${termination.id}/tasks/${task!.id}/complete`;
    const res = await t.api('POST', path, { body: { outcome: 'done', reason: 'laptop returned' } });
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('not a manual task');
    const bad = await t.api('POST', path, { body: { outcome: 'maybe', reason: 'x' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^outcome: /);
    expect(
      (
        await t.api('POST', `/admin/v1/terminations/${termination.id}/tasks/${randomUUID()}/complete`, {
          body: { outcome: 'done', reason: 'x' },
        })
      ).status,
    ).toBe(404);
    expect((await t.daemon.store.getTask(task!.id))?.state).toBe('pending');
    const spy = vi.spyOn(t.daemon.store, 'getTask').mockRejectedValueOnce(sqliteBusy());
    try {
      expect((await t.api('POST', path, { body: { outcome: 'done', reason: 'x' } })).status).toBe(503);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('secrets', () => {
  it('never echoes a token in responses, logs or the audit log', async () => {
    await t.api('GET', '/admin/v1/terminations', { token: `${OPERATOR_TOKEN}-wrong` });
    await t.api('POST', '/admin/v1/terminations', { body: { subject: uniqueSubject('secret') } });
    const logs = t.logs.join('');
    const audit = JSON.stringify(await t.daemon.store.listAudit(0, 100_000));
    for (const token of [OPERATOR_TOKEN, VIEWER_TOKEN]) {
      expect(logs).not.toContain(token);
      expect(audit).not.toContain(token);
    }
  });
});
