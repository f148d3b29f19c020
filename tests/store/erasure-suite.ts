/**
 * Erasure in the store (src/store/sql/erasure.ts), on every backend: refused while a hold
 * covers the termination or while anything of it may still run, all or nothing by subject;
 * once allowed, the data key is destroyed, the subject keys become the pseudonym, the
 * person's directory users and the termination's webhook deliveries are gone, the chain
 * still verifies, and the signed receipt verifies (a tampered one does not). Erasure
 * requests are answered with their schedule; the retention job's hold is audited once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/audit/verify.ts';
import { ErasureRefusedError, NoSuchSubjectError } from '../../src/domain/erasure.ts';
import type { Task } from '../../src/domain/types.ts';
import { pseudonymOf } from '../../src/privacy/pseudonym.ts';
import { verifyReceipt } from '../../src/privacy/receipt.ts';
import type { SqlStore } from '../../src/store/sql-store.ts';
import type { AttemptOutcome } from '../../src/store/store.ts';
import type { StoreBackend, TestDatabase } from './backends.ts';
import { newTask, newTermination, succeededAttempt } from './suite.ts';

const T0 = Date.UTC(2030, 0, 1, 9, 0, 0);
const MINUTE = 60_000;
const DAY = 86_400_000;
const succeeded: AttemptOutcome = { state: 'succeeded', evidence: { status: 'SUSPENDED' }, account: { id: 'acc-1' } };

export function defineErasureSuite(backend: StoreBackend): void {
  describe(`Erasure on ${backend.name}`, () => {
    let now = T0;
    let db: TestDatabase;
    let store: SqlStore;

    beforeEach(async () => {
      now = T0;
      db = await backend.open(() => new Date(now));
      store = db.store;
      // Re-verifications only where a test asks for them (playbook `reverified`): they keep a termination unfinished.
      store.setReverifySchedule((playbook) => (playbook === 'reverified' ? [DAY] : []));
    });
    afterEach(async () => {
      await db?.dispose();
    });

    /** A leaver (their termination sealed under its data key), a SCIM user and a webhook delivery. */
    async function leaver(externalId: string, email: string, playbook = 'employee') {
      const t = newTermination(now, {
        subjectKey: `ext:${externalId}`,
        subject: { externalId, userName: email, emails: [email] },
        playbook,
      });
      await store.createTermination(t, [newTask('disable', { notBefore: new Date(now) })]);
      await store.directory.createUser(`dir-${externalId}`, {
        userName: email,
        externalId,
        active: false,
        managerId: null,
        attributes: { emails: [{ value: email }] },
      });
      await store.webhookDeliveries.claim({ id: `msg-${externalId}`, bodySha256: 'ab'.repeat(32), receivedAt: new Date(now) });
      await store.webhookDeliveries.settle(`msg-${externalId}`, t.id, 'created');
      return t;
    }

    async function finishAll() {
      const tasks = await store.claimDueTasks({ worker: 'w1', provider: 'okta', now: new Date(now), leaseMs: MINUTE, limit: 100 });
      for (const task of tasks) await finish(task);
    }
    const finish = (task: Task) => store.finishAttempt('w1', task, succeeded, succeededAttempt(task, now));

    const refusal = async (promise: Promise<unknown>) => {
      const error = await promise.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ErasureRefusedError);
      return (error as ErasureRefusedError).blockers;
    };

    it('refuses while unfinished and while held, then erases after the release, with a receipt that verifies', async () => {
      const t = await leaver('E-200', 'alice@example.com');
      const unfinished = await refusal(store.eraseTermination(t.id, 'admin:dpo', 'Art. 17 request'));
      expect(unfinished.unfinished).toEqual([{ terminationId: t.id, state: 'scheduled', tasks: ['disable'], reverifications: [] }]);

      await finishAll();
      expect((await store.getTermination(t.id))?.state).toBe('completed');
      const placed = await store.placeHold({ subject: { emails: ['alice@example.com'] } }, 'admin:legal', 'case 2030-4');
      const held = await refusal(store.eraseTermination(t.id, 'admin:dpo', 'Art. 17 request'));
      expect(held.held).toEqual([{ holdId: placed!.hold.id, terminationId: t.id, reason: 'case 2030-4' }]);
      expect((await store.getTermination(t.id))?.subjectKey, 'a refusal writes nothing').toBe('ext:E-200');

      await store.releaseHold(placed!.hold.id, 'admin:legal', 'case closed');
      const sealedBefore = (await store.listAuditOf(t.id)).filter((e) => !('erased' in e.data) && e.action.startsWith('task.'));
      expect(sealedBefore.length, 'the task entries were sealed under the termination key and open while it exists').toBeGreaterThan(0);
      now += MINUTE;
      const signed = await store.eraseTermination(t.id, 'admin:dpo', 'Art. 17 request');
      expect(signed).not.toBeNull();
      const receipt = signed!.receipt;
      expect(receipt).toMatchObject({
        erasedBy: 'admin:dpo',
        reason: 'Art. 17 request',
        scope: 'termination',
        erasedAt: new Date(now).toISOString(),
      });
      expect(receipt.terminations).toEqual([
        expect.objectContaining({
          terminationId: t.id,
          pseudonym: pseudonymOf(t.id),
          erased: expect.objectContaining({ terminations: 1, data_keys: 1, webhook_deliveries: 1 }),
        }),
      ]);
      expect(receipt.totals).toMatchObject({ directory_users: 1, terminations: 1 });
      expect(JSON.stringify(receipt), 'the receipt names nobody').not.toMatch(/alice|E-200/);

      const key = store.erasureKey();
      expect(verifyReceipt(signed, key.publicKeyPem)).toEqual({ valid: true, keyId: key.keyId });
      const tampered = JSON.parse(JSON.stringify(signed)) as typeof signed;
      tampered!.receipt.erasedBy = 'admin:someone-else';
      expect(verifyReceipt(tampered, key.publicKeyPem)).toMatchObject({ valid: false });
      expect(await store.getErasure(receipt.erasureId)).toEqual(signed);

      const after = await store.getTermination(t.id);
      expect(after?.subjectKey).toBe(pseudonymOf(t.id));
      expect(JSON.stringify(after), 'the termination names nobody').not.toMatch(/alice|E-200/);
      expect(await store.directory.findByExternalId('E-200')).toEqual([]);
      expect(await store.webhookDeliveries.get(`msg-E-200`)).toBeNull();
      const entries = await store.listAuditOf(t.id);
      expect(
        entries.filter((e) => e.action.startsWith('task.')).every((e) => e.data.erased === true),
        'sealed entries are unreadable',
      ).toBe(true);
      expect(entries.find((e) => e.action === 'privacy.erased')?.data).toMatchObject({
        erasureId: receipt.erasureId,
        pseudonym: pseudonymOf(t.id),
      });
      await store.linkAudit();
      expect(await verifyAuditChain((a, l) => store.listAudit(a, l), await store.auditAnchor())).toMatchObject({ ok: true });

      const again = await refusal(store.eraseTermination(t.id, 'admin:dpo', 'again'));
      expect(again.erased).toEqual([{ terminationId: t.id, erasureId: receipt.erasureId }]);
      expect(await store.eraseTermination('no-such-termination', 'admin:dpo', 'x')).toBeNull();
    });

    it('waits for the last re-verification, and names it', async () => {
      const t = await leaver('E-250', 'ann@example.com', 'reverified');
      await finishAll();
      const refused = await refusal(store.eraseTermination(t.id, 'admin:dpo', 'request'));
      expect(refused.unfinished).toEqual([{ terminationId: t.id, state: 'completed', tasks: [], reverifications: [expect.any(String)] }]);
      expect(await store.dueForRetention(new Map([['reverified', 0]]), new Date(now + 2 * DAY), 10)).toEqual([]);
    });

    it('refuses a failed termination until its failed step is settled: a door may still be open', async () => {
      const t = await leaver('E-260', 'gil@example.com');
      const [task] = await store.claimDueTasks({ worker: 'w1', provider: 'okta', now: new Date(now), leaseMs: MINUTE, limit: 1 });
      await store.finishAttempt(
        'w1',
        task!,
        { state: 'failed', error: { kind: 'PermanentError', message: 'missing scope' } },
        {
          taskId: task!.id,
          attempt: task!.attempts,
          worker: 'w1',
          startedAt: new Date(now),
          finishedAt: new Date(now),
          outcome: 'failed',
          errorKind: 'PermanentError',
          errorMessage: 'missing scope',
          evidence: null,
        },
      );
      expect((await store.getTermination(t.id))?.state).toBe('failed');
      const refused = await refusal(store.eraseTermination(t.id, 'admin:dpo', 'request'));
      expect(refused.unfinished).toEqual([{ terminationId: t.id, state: 'failed', tasks: [], reverifications: [] }]);
      expect(await store.dueForRetention(new Map([['employee', 0]]), new Date(now + DAY), 10)).toEqual([]);
      await store.waiveTask(t.id, task!.id, 'admin:ops', 'disabled by hand, SEC-9');
      expect(await store.eraseTermination(t.id, 'admin:dpo', 'request')).toMatchObject({ receipt: { scope: 'termination' } });
    });

    it('erases a person all or nothing: every termination on record for them', async () => {
      const first = await leaver('E-300', 'bob@example.com');
      await finishAll();
      now += DAY;
      // Filed under the same HRIS id later, still running.
      const second = newTermination(now, { subjectKey: 'ext:E-300', subject: { externalId: 'E-300', emails: ['bob@example.com'] } });
      await store.createTermination(second, [newTask('disable', { notBefore: new Date(now) })]);

      const refused = await refusal(store.eraseSubject({ emails: ['Bob@Example.com'] }, 'admin:dpo', 'request'));
      expect(refused.unfinished.map((u) => u.terminationId)).toEqual([second.id]);
      expect((await store.getTermination(first.id))?.subjectKey, 'nothing erased').toBe('ext:E-300');

      await finishAll();
      const signed = await store.eraseSubject({ emails: ['bob@example.com'] }, 'admin:dpo', 'request');
      expect(signed.receipt.terminations.map((t) => t.terminationId).sort()).toEqual([first.id, second.id].sort());
      expect(signed.receipt.scope).toBe('subject');
      await expect(store.eraseSubject({ emails: ['bob@example.com'] }, 'admin:dpo', 'request')).rejects.toBeInstanceOf(NoSuchSubjectError);
    });

    it('answers an erasure request with its schedule and carries it out when due', async () => {
      const t = await leaver('E-400', 'carol@example.com', 'employee');
      await finishAll();
      const finishedAt = now;
      const keep = (playbook: string) => (playbook === 'employee' ? 7 * DAY : 0);
      const request = { subject: { externalId: 'E-400', emails: [] }, requestedBy: 'privacy-tool', reference: 'DSR-1' };

      const answer = await store.requestErasure(request, 'admin:privacy-tool', keep);
      expect(answer).toMatchObject({ state: 'scheduled', dueAt: new Date(finishedAt + 7 * DAY).toISOString(), terminations: [t.id] });
      expect(await store.runDueErasureRequests(new Date(now), 'engine:retention', keep, 10)).toEqual([]);

      now = finishedAt + 7 * DAY;
      const [done] = await store.runDueErasureRequests(new Date(now), 'engine:retention', keep, 10);
      expect(done).toMatchObject({ id: answer.id, state: 'done' });
      const receipt = await store.getErasure(done!.erasureId!);
      expect(receipt?.receipt).toMatchObject({ scope: 'request', requestReference: answer.id });
      expect((await store.getTermination(t.id))?.subjectKey).toBe(pseudonymOf(t.id));
      expect(await store.getErasureRequest(answer.id)).toMatchObject({ state: 'done' });

      const nobody = await store.requestErasure({ ...request, subject: { externalId: 'E-none', emails: [] } }, 'admin:privacy-tool', keep);
      expect(nobody).toMatchObject({ state: 'refused', because: 'no termination on record for this subject' });
    });

    it('lets a request wait for a termination to finish, audited once, not at every pass', async () => {
      const t = await leaver('E-450', 'hal@example.com');
      const request = { subject: { externalId: 'E-450', emails: [] }, requestedBy: 'privacy-tool', reference: 'DSR-3' };
      const answer = await store.requestErasure(request, 'admin:privacy-tool', () => 0);
      expect(answer).toMatchObject({ state: 'waiting', dueAt: null, terminations: [t.id] });
      const decided = async () => (await store.listAudit(0, 1000)).filter((e) => e.action === 'privacy.erasure_request_decided').length;
      expect(await decided()).toBe(1);
      expect(await store.runDueErasureRequests(new Date(now), 'engine:retention', () => 0, 10)).toEqual([
        expect.objectContaining({ state: 'waiting' }),
      ]);
      await store.runDueErasureRequests(new Date(now), 'engine:retention', () => 0, 10);
      expect(await decided(), 'still waiting: nothing new to audit').toBe(1);
      await finishAll();
      const [done] = await store.runDueErasureRequests(new Date(now), 'engine:retention', () => 0, 10);
      expect(done).toMatchObject({ state: 'done', erasureId: expect.any(String) });
      expect(await decided()).toBe(2);
      expect((await store.getTermination(t.id))?.subjectKey).toBe(pseudonymOf(t.id));
    });

    it('refuses an erasure request a hold applies to, naming the hold', async () => {
      await leaver('E-500', 'dan@example.com', 'customer');
      await finishAll();
      const placed = await store.placeHold({ subject: { externalId: 'E-500', emails: [] } }, 'admin:legal', 'tax audit');
      const answer = await store.requestErasure(
        { subject: { emails: ['dan@example.com'] }, requestedBy: 'privacy-tool', reference: 'DSR-2' },
        'admin:privacy-tool',
        () => 0,
      );
      expect(answer).toMatchObject({ state: 'refused', holds: [{ holdId: placed!.hold.id, reason: 'tax audit' }] });
    });

    it('retention: erases what ran out, skips what a hold keeps and audits each hold once', async () => {
      const kept = await leaver('E-600', 'erin@example.com', 'customer');
      const free = await leaver('E-601', 'frank@example.com', 'customer');
      await finishAll();
      const periods = new Map([['customer', 30 * DAY]]);
      expect(await store.dueForRetention(periods, new Date(now + 29 * DAY), 10)).toEqual([]);
      now += 30 * DAY;
      const placed = await store.placeHold({ terminationId: kept.id }, 'admin:legal', 'works council');
      const due = await store.dueForRetention(periods, new Date(now), 10);
      expect(due.sort()).toEqual([kept.id, free.id].sort());

      const outcomes = new Map<string, unknown>();
      for (const id of due) outcomes.set(id, await store.eraseForRetention(id, 'engine:retention'));
      expect(outcomes.get(kept.id)).toEqual({ held: [{ holdId: placed!.hold.id, reason: 'works council' }], noted: 1 });
      expect(outcomes.get(free.id)).toMatchObject({ erased: { receipt: { scope: 'retention' } } });
      expect(await store.retentionHeldCount()).toBe(1);
      expect(await store.dueForRetention(periods, new Date(now), 10), 'a noted hold keeps it out of the next pass').toEqual([]);
      expect(await store.eraseForRetention(kept.id, 'engine:retention')).toMatchObject({ noted: 0 });
      expect((await store.listAuditOf(kept.id)).filter((e) => e.action === 'privacy.retention_held')).toHaveLength(1);

      await store.releaseHold(placed!.hold.id, 'admin:legal', 'done');
      expect(await store.retentionHeldCount()).toBe(0);
      expect(await store.dueForRetention(periods, new Date(now), 10)).toEqual([kept.id]);
    });
  });
}
