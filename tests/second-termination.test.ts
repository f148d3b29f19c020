/**
 * A second termination of the same subject, across channels (issue 23, cases 1 to 3):
 * one rule on every door. An earlier effective time brings the open termination forward;
 * a later or equal one joins it; a different playbook is a 409 unless an operator
 * supersedes; only a true repeat is a `duplicate`. Who may cancel follows the channel.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/schema.ts';
import { EngineEventBus } from '../src/engine/events.ts';
import { TerminationService } from '../src/intake/termination-service.ts';
import { signedHeaders, startTestDaemon, uniqueSubject, type TestDaemon } from './helpers/admin-daemon.ts';

const SCIM_TOKEN = `scim-${randomBytes(16).toString('hex')}`;
const SCIM_JSON = 'application/scim+json';
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const FAR_FUTURE = '9999-12-31T00:00:00.000Z';

let t: TestDaemon;

beforeAll(async () => {
  t = await startTestDaemon({ auth: { scim: [SCIM_TOKEN] } });
});
afterAll(async () => {
  await t?.stop();
});

async function deliver(payload: unknown, id = `msg_${randomBytes(6).toString('hex')}`) {
  const raw = JSON.stringify(payload);
  return t.api('POST', '/webhooks/termination', { token: null, raw, headers: signedHeaders(raw, { id }) });
}

function scim(method: string, path: string, body: unknown) {
  return t.api(method, `/scim/v2${path}`, {
    token: SCIM_TOKEN,
    raw: JSON.stringify(body),
    headers: { 'content-type': SCIM_JSON, accept: SCIM_JSON },
  });
}

const admin = (body: unknown, headers?: Record<string, string>) =>
  t.api('POST', '/admin/v1/terminations', { body, ...(headers ? { headers } : {}) });

/** The daemon's parsed config as input to parse again (durations are numbers of milliseconds, which the schema accepts). */
function rawConfigOf(daemon: TestDaemon): Record<string, unknown> {
  return JSON.parse(JSON.stringify(daemon.config)) as Record<string, unknown>;
}

async function auditOf(terminationId: string) {
  return t.daemon.store.listAuditOf(terminationId);
}

describe('case 1: a far-future termination never swallows an earlier one', () => {
  it('an operator\'s "terminate now" brings a webhook termination dated 9999-12-31 forward, and its tasks run', async () => {
    const subject = uniqueSubject('far-admin');
    const far = await deliver({ subject, effectiveAt: FAR_FUTURE });
    expect(far.status).toBe(201);
    const before = Date.now();
    const now = await admin({ subject, reason: 'incident: terminate now' });
    expect(now.status).toBe(200);
    expect(now.body).toMatchObject({
      terminationId: far.body.terminationId,
      duplicate: false,
      outcome: 'rescheduled',
      previousEffectiveAt: FAR_FUTURE,
    });
    expect(new Date(now.body.effectiveAt).getTime()).toBeGreaterThanOrEqual(before - 1000);
    const rescheduled = (await auditOf(far.body.terminationId)).find((e) => e.action === 'termination.rescheduled');
    expect(rescheduled).toMatchObject({ actor: 'admin:ops', data: { channel: 'admin', from: FAR_FUTURE } });
    await t.waitFor(far.body.terminationId, (x) => x.state === 'completed');
  });

  it('a SCIM PATCH active=false brings a webhook termination dated 9999-12-31 forward, and its tasks run', async () => {
    const subject = uniqueSubject('far-scim');
    const created = await scim('POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName: subject.userName,
      externalId: subject.externalId,
      active: true,
    });
    expect(created.status).toBe(201);
    const far = await deliver({ subject, effectiveAt: FAR_FUTURE });
    expect(far.status).toBe(201);
    const patched = await scim('PATCH', `/Users/${created.body.id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', value: { active: false } }],
    });
    expect(patched.status).toBe(200);
    const termination = await t.daemon.store.getTermination(far.body.terminationId);
    expect(termination!.effectiveAt.getTime()).toBeLessThan(Date.now() + 1000);
    expect((await auditOf(far.body.terminationId)).find((e) => e.action === 'termination.rescheduled')).toMatchObject({
      actor: 'scim:token-0',
      data: { channel: 'scim', from: FAR_FUTURE },
    });
    await t.waitFor(far.body.terminationId, (x) => x.state === 'completed');
  });

  it('a later or equal time with the same playbook joins the open termination: 200, not a duplicate, nothing moved', async () => {
    const subject = uniqueSubject('join');
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    const first = await admin({ subject, effectiveAt: soon, playbook: 'quick' });
    expect(first.status).toBe(201);
    const later = await deliver({ subject, effectiveAt: FAR_FUTURE, playbook: 'quick' });
    expect(later.status).toBe(200);
    expect(later.body).toEqual({
      terminationId: first.body.terminationId,
      state: 'scheduled',
      duplicate: false,
      outcome: 'joined',
      effectiveAt: soon,
    });
    const tasks = await t.daemon.store.listTasks(first.body.terminationId);
    expect(tasks.map((x) => x.notBefore.toISOString())).toEqual([soon]);
  });

  it('a different playbook while one is open is a 409 naming the open termination, unless an operator supersedes', async () => {
    const subject = uniqueSubject('other-playbook');
    const open = await deliver({ subject, effectiveAt: FAR_FUTURE, playbook: 'quick' });
    expect(open.status).toBe(201);
    const conflict = await deliver({ subject, playbook: 'default' });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toContain(open.body.terminationId);
    expect(conflict.body.error).toMatch(/supersede/);
    expect(conflict.body.details).toMatchObject({ openTerminationId: open.body.terminationId, playbook: 'quick' });
    const byAdmin = await admin({ subject, playbook: 'default' });
    expect(byAdmin.status).toBe(409);
    expect((await t.daemon.store.getTermination(open.body.terminationId))?.effectiveAt.toISOString()).toBe(FAR_FUTURE);

    const superseded = await admin({ subject, playbook: 'default', supersede: true, reason: 'wrong playbook' });
    expect(superseded.status).toBe(201);
    expect(superseded.body).toMatchObject({ outcome: 'superseded', supersededTerminationId: open.body.terminationId, duplicate: false });
    expect((await t.daemon.store.getTermination(open.body.terminationId))?.state).toBe('cancelled');
    expect((await auditOf(open.body.terminationId)).find((e) => e.action === 'termination.superseded')).toMatchObject({
      actor: 'admin:ops',
      data: { by: superseded.body.terminationId },
    });
    await t.waitFor(superseded.body.terminationId, (x) => x.state === 'completed');
  });
});

describe('case 2: a channel cancels only what it created', () => {
  it("refuses a webhook termination.cancelled for an operator's termination with 409, audited; an operator may cancel it", async () => {
    const subject = uniqueSubject('incident');
    const created = await admin({ subject, effectiveAt: FAR_FUTURE, reason: 'incident' });
    expect(created.status).toBe(201);
    const id = `msg_${randomBytes(6).toString('hex')}`;
    const cancel = await deliver({ type: 'termination.cancelled', subject: { externalId: subject.externalId }, reason: 'rehired' }, id);
    expect(cancel.status).toBe(409);
    expect(cancel.body.error).toContain(created.body.terminationId);
    expect(cancel.body.error).toMatch(/operator/);
    expect((await t.daemon.store.getTermination(created.body.terminationId))?.state).toBe('scheduled');
    expect((await auditOf(created.body.terminationId)).find((e) => e.action === 'termination.cancel_refused')).toMatchObject({
      actor: `webhook:${id}`,
      data: { channel: 'webhook', requestedBy: ['admin'] },
    });
    const byOperator = await t.api('POST', `/admin/v1/terminations/${created.body.terminationId}/cancel`, {
      body: { reason: 'false alarm' },
    });
    expect(byOperator.status).toBe(200);
    expect(byOperator.body.termination.state).toBe('cancelled');
  });

  it('refuses a webhook cancellation of a webhook termination an operator has joined', async () => {
    const subject = uniqueSubject('joined-by-operator');
    const first = await deliver({ subject, effectiveAt: FAR_FUTURE });
    expect(first.status).toBe(201);
    expect((await admin({ subject })).body.outcome).toBe('rescheduled');
    const cancel = await deliver({ type: 'termination.cancelled', subject: { externalId: subject.externalId } });
    expect(cancel.status).toBe(409);
    expect((await t.daemon.store.getTermination(first.body.terminationId))?.state).not.toBe('cancelled');
  });

  it('refuses a SCIM reactivation that would cancel a webhook termination, with a SCIM 409', async () => {
    const subject = uniqueSubject('scim-rehire');
    const user = await scim('POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName: subject.userName,
      externalId: subject.externalId,
      active: false,
    });
    expect(user.status).toBe(201);
    const far = await deliver({ subject, effectiveAt: FAR_FUTURE });
    expect(far.status).toBe(201);
    const reactivate = await scim('PATCH', `/Users/${user.body.id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', value: { active: true } }],
    });
    expect(reactivate.status).toBe(409);
    expect(reactivate.body.detail).toContain(far.body.terminationId);
    expect((await t.daemon.store.getTermination(far.body.terminationId))?.state).toBe('scheduled');
  });

  it('lets a channel cancel what the configuration allows it to (intake.<channel>.mayCancel)', async () => {
    const config = configSchema.parse({ ...rawConfigOf(t), intake: { webhook: { mayCancel: ['webhook', 'admin'] } } });
    const widened = new TerminationService(t.daemon.store, config, new EngineEventBus());
    const subject = uniqueSubject('widened');
    const created = await admin({ subject, effectiveAt: FAR_FUTURE });
    const cancelled = await widened.cancelForSubject('webhook', subject, 'webhook:msg_widened', 'rehired');
    expect(cancelled).toMatchObject({ id: created.body.terminationId, state: 'cancelled' });
    expect(() => configSchema.parse({ ...rawConfigOf(t), intake: { scim: { mayCancel: ['hr'] } } })).toThrow(/mayCancel/);
  });
});

describe('case 3: admin Idempotency-Key', () => {
  it('answers the same key with another body 409 and writes nothing; the same body gets the earlier answer', async () => {
    const key = randomUUID();
    const a = uniqueSubject('idem-a');
    const b = uniqueSubject('idem-b');
    const body = { subject: a, effectiveAt: FAR_FUTURE };
    const first = await admin(body, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    const other = await admin({ subject: b, effectiveAt: FAR_FUTURE }, { 'idempotency-key': key });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatch(/Idempotency-Key/);
    expect((await t.daemon.store.listTerminations({ subjectKey: `ext:${b.externalId}`, limit: 5 })).items).toEqual([]);
    const again = await admin(body, { 'idempotency-key': key });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ terminationId: first.body.terminationId, duplicate: true, outcome: 'created' });
  });
});
