/**
 * The evidence document's honest labels (src/audit/proof.ts), summary, run order, replay
 * runs and version, built from records shaped as the store and the adapters write them
 * (the verify evidence below is what providers/google, providers/notify and providers/caep
 * return). tests/audit.test.ts covers the document against a real store and engine.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEvidence, renderEvidenceHtml } from '../src/audit/evidence.ts';
import type { LegalHold } from '../src/domain/legal-hold.ts';
import type { JsonObject, Task, TaskAttempt, Termination } from '../src/domain/types.ts';
import type { AuditEntry } from '../src/store/store.ts';
import { OPERATOR_TOKEN, VIEWER_TOKEN, startTestDaemon, uniqueSubject, type TestDaemon } from './helpers/admin-daemon.ts';
import { pollUntil } from './helpers/poll.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const at = (minute: number) => new Date(Date.UTC(2026, 0, 5, 9, minute));

const termination: Termination = {
  id: 'term-1',
  source: 'admin',
  sourceEventId: null,
  subjectKey: 'user:ada@example.com',
  subject: { userName: 'ada@example.com', emails: ['ada@example.com'] },
  reason: 'left',
  playbook: 'employee',
  state: 'completed_with_waivers',
  requestedAt: at(0),
  effectiveAt: at(0),
  revokedAt: at(30),
  finishedAt: at(40),
  createdBy: 'admin:alice',
};

let n = 0;
function task(stepId: string, action: string, state: Task['state'], evidence: JsonObject | null, extra: Partial<Task> = {}): Task {
  n += 1;
  return {
    id: `task-${stepId}`,
    terminationId: termination.id,
    stepId,
    provider: action === 'manual' ? 'manual' : 'idp',
    action,
    params: {},
    critical: action === 'revoke_sessions',
    dependsOn: [],
    notBefore: at(0),
    state,
    attempts: 1,
    rateLimitedCount: 0,
    nextAttemptAt: at(0),
    leaseOwner: null,
    leaseToken: null,
    leaseExpiresAt: null,
    account: null,
    checkpoint: null,
    lastError: null,
    evidence,
    startedAt: null,
    finishedAt: at(n),
    ...extra,
  } as Task;
}

function attempt(
  taskId: string,
  number: number,
  minute: number,
  outcome: TaskAttempt['outcome'],
  error: string | null = null,
): TaskAttempt {
  return {
    taskId,
    attempt: number,
    worker: 'w1',
    startedAt: at(minute),
    finishedAt: at(minute),
    outcome,
    errorKind: error ? 'transient' : null,
    errorMessage: error,
    evidence: null,
  };
}

let seq = 0;
const entry = (action: string, actor: string, taskId: string | null, minute: number, data: JsonObject = {}): AuditEntry => ({
  seq: ++seq,
  position: null,
  at: at(minute),
  actor,
  action,
  terminationId: termination.id,
  taskId,
  data,
  sealedData: null,
  prevHash: null,
  hash: null,
});

const verified = task('disable', 'disable_account', 'succeeded', { account: { id: 'u1' }, execute: {}, verify: { accountEnabled: false } });
const googleSignOut = task('google-sessions', 'revoke_sessions', 'succeeded', {
  execute: { signOut: 'sent' },
  verify: {
    oauthGrantsRemaining: 0,
    appPasswordsRemaining: 0,
    signOut: 'not verifiable: the Directory API has no read-back for users.signOut',
  },
});
const notify = task('tell-it', 'notify', 'succeeded', {
  verify: {
    acknowledgedWith: 200,
    at: '2026-01-05T09:03:00.000Z',
    readBack: 'none: a webhook receiver offers no read API; its 2xx is the proof of delivery',
  },
});
const caep = task('caep-push', 'revoke_sessions', 'succeeded', {
  verify: {
    acknowledgedBy: [{ receiver: 'https://rp.example', jti: 'j1', status: 202 }],
    readBack: 'none: SSF receivers acknowledge a pushed SET with 202 and offer no read API',
  },
});
const manual = task(
  'collect-laptop',
  'manual',
  'succeeded',
  { completedBy: 'admin:bob', outcome: 'done', reason: 'laptop returned to IT', at: '2026-01-05T09:20:00.000Z' },
  { finishedAt: at(20) },
);
const waived = task(
  'slack-sessions',
  'revoke_sessions',
  'waived',
  { waivedBy: 'admin:carol', reason: 'workspace already deleted, ticket SEC-9', at: '2026-01-05T09:25:00.000Z' },
  {
    lastError: { kind: 'permanent', message: 'missing scope' },
  },
);
const failed = task('badge', 'deactivate_badge', 'failed', null, {
  lastError: { kind: 'permanent', message: 'badge system refused: 403' },
});
const skipped = task('okta-groups', 'remove_groups', 'skipped', { skipped: 'the subject has no account at this provider' });
const cancelled = task('delete', 'delete_account', 'cancelled', null, { finishedAt: null });

const attempts = [
  attempt(verified.id, 1, 2, 'succeeded'),
  attempt(googleSignOut.id, 1, 1, 'succeeded'),
  attempt(notify.id, 1, 3, 'succeeded'),
  attempt(caep.id, 1, 4, 'succeeded'),
  // The waived task ran once, was replayed by dave at 09:10 (attempts restart at 1), failed again and was waived.
  attempt(waived.id, 1, 5, 'retry', 'timeout'),
  attempt(waived.id, 2, 6, 'failed', 'missing scope'),
  attempt(waived.id, 1, 11, 'failed', 'missing scope'),
  attempt(failed.id, 1, 7, 'failed', 'badge system refused'),
  attempt(skipped.id, 1, 0, 'skipped'),
];
const audit = [
  entry('termination.created', 'admin:alice', null, 0),
  entry('task.replayed', 'admin:dave', waived.id, 10),
  entry('task.completed_manually', 'admin:bob', manual.id, 20, { outcome: 'done', reason: 'laptop returned to IT' }),
  entry('task.waived', 'admin:carol', waived.id, 25, { reason: 'workspace already deleted, ticket SEC-9' }),
];
const tasks = [verified, googleSignOut, notify, caep, manual, waived, failed, skipped, cancelled];
const doc = buildEvidence(termination, tasks, attempts, audit, at(50));
const of = (step: string) => doc.tasks.find((t) => t.step === step)!;

describe('evidence labels', () => {
  it('says "verified by read-back" only for a task whose provider was read after the write', () => {
    expect(of('disable').proof).toMatchObject({ kind: 'verified_by_read_back', label: 'verified by read-back: accountEnabled=false' });
    const readBack = doc.tasks.filter((t) => t.proof.kind === 'verified_by_read_back').map((t) => t.step);
    expect(readBack).toEqual(['disable']);
  });

  it('names the person who attested a manual step, and their words', () => {
    expect(of('collect-laptop').proof).toEqual({
      kind: 'attested',
      label: 'attested by admin:bob: laptop returned to IT',
      by: 'admin:bob',
      reason: 'laptop returned to IT',
    });
  });

  it('says "acknowledged by the receiver" for pushes with no read API (notify, CAEP)', () => {
    for (const step of ['tell-it', 'caep-push']) expect(of(step).proof.kind).toBe('acknowledged_by_receiver');
    expect(of('tell-it').proof.label).toBe('acknowledged by the receiver (no read API): acknowledgedWith=200, at=2026-01-05T09:03:00.000Z');
    expect(of('caep-push').proof.label).toBe(
      'acknowledged by the receiver (no read API): acknowledgedBy=[{"receiver":"https://rp.example","jti":"j1","status":202}]',
    );
  });

  it('says "not verifiable" where the provider offers no read (Google sign-out), and still shows what was read back', () => {
    expect(of('google-sessions').proof.kind).toBe('not_verifiable');
    expect(of('google-sessions').proof.label).toBe(
      'not verifiable (signOut: the Directory API has no read-back for users.signOut); read back: oauthGrantsRemaining=0, appPasswordsRemaining=0',
    );
  });

  it('says who waived a task and why, and never that it was verified', () => {
    expect(of('slack-sessions').proof).toMatchObject({
      kind: 'waived',
      label: 'waived by admin:carol: workspace already deleted, ticket SEC-9',
      by: 'admin:carol',
    });
    expect(of('slack-sessions').verifiedBy).toBeNull();
  });

  it('labels failed, skipped and cancelled tasks for what they are', () => {
    expect(of('badge').proof.label).toBe('failed: permanent: badge system refused: 403');
    expect(of('okta-groups').proof.label).toBe('skipped: the subject has no account at this provider');
    expect(of('delete').proof.kind).toBe('cancelled');
  });

  it('counts each kind of proof in a summary', () => {
    expect(doc.summary).toEqual({
      verified_by_read_back: 1,
      attested: 1,
      acknowledged_by_receiver: 2,
      not_verifiable: 1,
      requested: 0,
      waived: 1,
      failed: 1,
      skipped: 1,
      cancelled: 1,
      held_by_legal_hold: 0,
      not_finished: 0,
      total: 9,
    });
  });
});

describe('evidence order, runs and version', () => {
  it('lists tasks in the order they ran, numbered; a task that never ran comes last', () => {
    expect(doc.tasks.map((t) => `${t.order}:${t.step}`)).toEqual([
      '1:okta-groups',
      '2:google-sessions',
      '3:disable',
      '4:tell-it',
      '5:caep-push',
      '6:slack-sessions',
      '7:badge',
      // No provider attempt: ordered by when the person completed it.
      '8:collect-laptop',
      '9:delete',
    ]);
  });

  it('keeps attempt numbers clear across a replay: each attempt names its run and who started it', () => {
    const t = of('slack-sessions');
    expect(t.runs).toEqual([
      { run: 1, startedBy: 'the termination', at: null },
      { run: 2, startedBy: 'replay by admin:dave', at: at(10).toISOString() },
    ]);
    expect(t.attempts.map((a) => [a.run, a.attempt, a.label])).toEqual([
      [1, 1, 'run 1 (the termination), attempt 1'],
      [1, 2, 'run 1 (the termination), attempt 2'],
      [2, 1, 'run 2 (replay by admin:dave), attempt 1'],
    ]);
    // A task never replayed keeps plain attempt numbers.
    expect(of('disable').attempts.map((a) => a.label)).toEqual(['attempt 1']);
  });

  it("puts the daemon's version, the summary and each label on the printable page", () => {
    expect(doc.generatedBy).toEqual({ name: 'deprovisiond', version: VERSION });
    const html = renderEvidenceHtml(doc);
    expect(html).toContain(`Written by deprovisiond ${VERSION}`);
    expect(html).toMatch(/<h2>Summary: 9 task\(s\)<\/h2>/);
    expect(html).toContain('<tr><th>verified by read-back</th><td>1</td></tr>');
    expect(html).toContain('<tr><th>acknowledged by the receiver (no read API)</th><td>2</td></tr>');
    expect(html).toContain('attested by admin:bob: laptop returned to IT');
    expect(html).toContain('not verifiable (signOut: the Directory API has no read-back for users.signOut)');
    expect(html).toContain('Not verified: waived by an operator (admin:carol: workspace already deleted, ticket SEC-9)');
    expect(html).toContain('run 2 (replay by admin:dave), attempt 1');
    expect(html.indexOf('1. okta-groups')).toBeLessThan(html.indexOf('9. delete'));
  });

  it('says "unknown" on the printable page for a waiver whose operator no record names, never "null"', () => {
    const unattributed = task('slack-sessions', 'revoke_sessions', 'waived', { reason: 'ticket SEC-10' });
    const html = renderEvidenceHtml(buildEvidence(termination, [unattributed], [], [], at(50)));
    expect(html).toContain('Not verified: waived by an operator (unknown: ticket SEC-10)');
    expect(html).not.toContain('null');
  });
});

describe('a device wipe: requested, then acknowledged by a re-verification', () => {
  // What providers/google/devices.ts returns while the phone has not synced, then once it has.
  const pendingRead = {
    devices: [{ resourceId: 'r1', status: 'ACCOUNT_WIPING' }],
    wipe: 'requested: 1 device(s) have not acknowledged the wipe yet',
  };
  const doneRead = { devices: [{ resourceId: 'r1', status: 'ACCOUNT_WIPED' }], devicesPending: 0 };
  const wipe = task('google-wipe', 'wipe_devices', 'succeeded', { account: { id: 'u1' }, execute: {}, verify: pendingRead });
  const reverification = (id: string, minute: number, outcome: 'held' | 'drift', verify: JsonObject) => ({
    id,
    terminationId: termination.id,
    taskId: wipe.id,
    provider: 'idp',
    action: 'wipe_devices' as const,
    reason: 'scheduled' as const,
    round: 0,
    dueAt: at(minute),
    state: 'done' as const,
    claims: 1,
    leaseToken: null,
    outcome,
    evidence: { readBack: { account: { id: 'u1' }, verify }, at: at(minute).toISOString() },
    finishedAt: at(minute),
  });

  it('labels the wipe "requested" while no read-back has seen the device carry it out', () => {
    const still = buildEvidence(termination, [wipe], [], [], at(50), [reverification('r-1', 45, 'held', pendingRead)]);
    const t = still.tasks[0]!;
    expect(t.proof.kind).toBe('requested');
    expect(t.proof.label).toBe(
      'requested, not yet acknowledged (wipe: 1 device(s) have not acknowledged the wipe yet); read back: devices=[{"resourceId":"r1","status":"ACCOUNT_WIPING"}]',
    );
    expect(t.acknowledged).toBeNull();
    expect(still.summary.requested).toBe(1);
    expect(still.summary.verified_by_read_back).toBe(0);
  });

  it('shows the first re-verification that read the wipe done as the acknowledgement, with both times', () => {
    const later = buildEvidence(termination, [wipe], [], [], at(59), [
      reverification('r-1', 45, 'held', pendingRead),
      reverification('r-2', 50, 'held', doneRead),
      reverification('r-3', 55, 'held', doneRead),
    ]);
    const t = later.tasks[0]!;
    expect(t.acknowledged).toEqual({ at: at(50).toISOString(), readBack: doneRead });
    expect(t.proof.kind).toBe('requested');
    expect(t.proof.label).toBe(
      `requested at ${wipe.finishedAt!.toISOString()}, acknowledged by the device at ${at(50).toISOString()} (re-verification): devices=[{"resourceId":"r1","status":"ACCOUNT_WIPED"}], devicesPending=0`,
    );
    expect(renderEvidenceHtml(later)).toContain(`acknowledged by the device at ${at(50).toISOString()} (re-verification)`);
  });

  it('never takes a drift for an acknowledgement', () => {
    const drifted = buildEvidence(termination, [wipe], [], [], at(59), [reverification('r-1', 45, 'drift', doneRead)]);
    expect(drifted.tasks[0]!.acknowledged).toBeNull();
  });
});

describe('legal holds in the evidence', () => {
  const hold = (id: string, extra: Partial<LegalHold> = {}): LegalHold => ({
    id,
    subject: { userName: 'ada@example.com', emails: ['ada@example.com'] },
    subjectKeys: ['user:ada@example.com', 'email:ada@example.com'],
    terminationId: null,
    reason: 'litigation, case 2026-114',
    placedBy: 'admin:legal',
    placedAt: at(5),
    releasedBy: null,
    releasedAt: null,
    releaseReason: null,
    ...extra,
  });
  const released = hold('hold-old', {
    subject: null,
    subjectKeys: [],
    terminationId: termination.id,
    reason: 'internal audit <Q4>',
    placedAt: at(1),
    releasedBy: 'admin:ops',
    releasedAt: at(3),
    releaseReason: 'audit closed',
  });
  const pendingDelete = task('delete', 'delete_account', 'pending', null, { finishedAt: null, attempts: 0 });
  const pendingRevoke = task('revoke', 'revoke_sessions', 'pending', null, { finishedAt: null, attempts: 0 });

  it('labels a pending delete under a hold in force "held by legal hold <id> (<reason>)" and counts it apart', () => {
    const doc = buildEvidence(termination, [pendingDelete, pendingRevoke], [], [], at(50), [], [released, hold('hold-1')]);
    const del = doc.tasks.find((t) => t.step === 'delete')!;
    expect(del.proof).toEqual({
      kind: 'held_by_legal_hold',
      label: 'held by legal hold hold-1 (litigation, case 2026-114)',
      by: 'admin:legal',
      reason: 'litigation, case 2026-114',
    });
    // A revocation is never held: it stays "not finished", whatever the holds.
    expect(doc.tasks.find((t) => t.step === 'revoke')!.proof.label).toBe('not finished (pending)');
    expect(doc.summary.held_by_legal_hold).toBe(1);
    expect(doc.summary.not_finished).toBe(1);
  });

  it('names every hold in force that keeps a step, and none once all are released', () => {
    const two = buildEvidence(termination, [pendingDelete], [], [], at(50), [], [hold('hold-1'), hold('hold-2', { reason: 'regulator' })]);
    expect(two.tasks[0]!.proof.label).toBe('held by legal hold hold-1 (litigation, case 2026-114); held by legal hold hold-2 (regulator)');
    const none = buildEvidence(termination, [pendingDelete], [], [], at(50), [], [released]);
    expect(none.tasks[0]!.proof).toMatchObject({ kind: 'not_finished', label: 'not finished (pending)' });
  });

  it('does not call a delete held once it is running or done: the hold came too late for it', () => {
    const running = task('delete', 'delete_account', 'running', null, { finishedAt: null });
    const done = task('delete', 'delete_account', 'succeeded', { verify: { exists: false } });
    expect(buildEvidence(termination, [running], [], [], at(50), [], [hold('hold-1')]).tasks[0]!.proof.kind).toBe('not_finished');
    expect(buildEvidence(termination, [done], [], [], at(50), [], [hold('hold-1')]).tasks[0]!.proof.kind).toBe('verified_by_read_back');
  });

  it('lists every hold: who placed it, when and why, and who released it, when and why', () => {
    const doc = buildEvidence(termination, [pendingDelete], [], [], at(50), [], [released, hold('hold-1')]);
    expect(doc.legalHolds).toEqual([
      {
        id: 'hold-old',
        on: 'termination',
        subject: null,
        terminationId: termination.id,
        reason: 'internal audit <Q4>',
        placedBy: 'admin:legal',
        placedAt: at(1).toISOString(),
        inForce: false,
        releasedBy: 'admin:ops',
        releasedAt: at(3).toISOString(),
        releaseReason: 'audit closed',
      },
      {
        id: 'hold-1',
        on: 'subject',
        subject: { userName: 'ada@example.com', emails: ['ada@example.com'] },
        terminationId: null,
        reason: 'litigation, case 2026-114',
        placedBy: 'admin:legal',
        placedAt: at(5).toISOString(),
        inForce: true,
        releasedBy: null,
        releasedAt: null,
        releaseReason: null,
      },
    ]);
    expect(buildEvidence(termination, [], [], [], at(50)).legalHolds).toEqual([]);
  });

  it('shows the holds and the held step on the printable page, escaped', () => {
    const html = renderEvidenceHtml(buildEvidence(termination, [pendingDelete], [], [], at(50), [], [released, hold('hold-1')]));
    expect(html).toContain('<h2>Legal holds</h2>');
    expect(html).toContain(`<td>${at(1).toISOString()} by admin:legal: internal audit &lt;Q4&gt;</td>`);
    expect(html).toContain(`<td>released ${at(3).toISOString()} by admin:ops: audit closed</td>`);
    expect(html).toContain('<td>subject ada@example.com · ada@example.com</td><td>');
    expect(html).toContain('<td>in force</td>');
    expect(html).toContain('<p class="proof held_by_legal_hold">held by legal hold hold-1 (litigation, case 2026-114)</p>');
    expect(html).toContain('<tr><th>held by a legal hold (not run)</th><td>1</td></tr>');
    expect(html).not.toContain('internal audit <Q4>');
    expect(renderEvidenceHtml(buildEvidence(termination, [], [], [], at(50)))).toContain(
      'No legal hold on this termination or its subject.',
    );
  });
});

describe('legal holds in the evidence, through the admin API', () => {
  let t: TestDaemon;
  beforeAll(async () => {
    t = await startTestDaemon();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('serves the holds and the held delete in the JSON and HTML evidence, then the release', async () => {
    const subject = uniqueSubject('evidence-hold');
    // Placed on the subject before the termination exists, so the delete can never run first.
    const placed = await t.api('POST', '/admin/v1/holds', {
      body: { subject: { emails: subject.emails }, reason: 'e-discovery, matter 77' },
    });
    expect(placed.status).toBe(201);
    const holdId = (placed.body.hold as { id: string }).id;
    const created = await t.api('POST', '/admin/v1/terminations', { body: { subject, playbook: 'retained' } });
    expect(created.status).toBe(201);
    const id = created.body.terminationId as string;
    await pollUntil(
      async () => (await t.daemon.store.listTasks(id)).find((k) => k.stepId === 'revoke')?.state === 'succeeded',
      () => 'the revocation did not run under the hold',
      10_000,
    );

    const evidence = await t.api('GET', `/admin/v1/terminations/${id}/evidence`, { token: VIEWER_TOKEN });
    expect(evidence.status).toBe(200);
    const del = (evidence.body.tasks as Array<{ step: string; proof: { kind: string; label: string } }>).find((k) => k.step === 'delete')!;
    expect(del.proof).toMatchObject({ kind: 'held_by_legal_hold', label: `held by legal hold ${holdId} (e-discovery, matter 77)` });
    expect(evidence.body.legalHolds).toEqual([
      expect.objectContaining({ id: holdId, on: 'subject', terminationId: null, placedBy: 'admin:ops', inForce: true }),
    ]);
    const html = await fetch(`${t.url}/admin/v1/terminations/${id}/evidence?format=html`, {
      headers: { authorization: `Bearer ${VIEWER_TOKEN}` },
    });
    const page = await html.text();
    expect(page).toContain(`held by legal hold ${holdId} (e-discovery, matter 77)`);
    for (const token of [OPERATOR_TOKEN, VIEWER_TOKEN]) expect(page).not.toContain(token);

    expect((await t.api('POST', `/admin/v1/holds/${holdId}/release`, { body: { reason: 'matter 77 closed' } })).status).toBe(200);
    await t.waitFor(id, (x) => x.state === 'completed');
    const after = await t.api('GET', `/admin/v1/terminations/${id}/evidence`, { token: VIEWER_TOKEN });
    expect(after.body.legalHolds).toEqual([
      expect.objectContaining({ id: holdId, inForce: false, releasedBy: 'admin:ops', releaseReason: 'matter 77 closed' }),
    ]);
    expect(after.body.summary.held_by_legal_hold).toBe(0);
  });
});
