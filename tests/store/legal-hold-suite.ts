/**
 * Legal holds in the store (src/store/sql/legal-holds.ts), on every backend: a hold keeps a
 * due delete from being claimed, never a revocation; it covers a person under any of their
 * identifiers; a release lets the delete run; each step is audited.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Task } from '../../src/domain/types.ts';
import type { SqlStore } from '../../src/store/sql-store.ts';
import type { AttemptOutcome } from '../../src/store/store.ts';
import type { StoreBackend, TestDatabase } from './backends.ts';
import { newTask, newTermination, succeededAttempt } from './suite.ts';

const T0 = Date.UTC(2030, 0, 1, 9, 0, 0);
const MINUTE = 60_000;
const succeeded: AttemptOutcome = { state: 'succeeded', evidence: { status: 'DELETED' }, account: { id: 'acc-1' } };

export function defineLegalHoldSuite(backend: StoreBackend): void {
  describe(`Legal holds on ${backend.name}`, () => {
    let now = T0;
    let db: TestDatabase;
    let store: SqlStore;

    beforeEach(async () => {
      now = T0;
      db = await backend.open(() => new Date(now));
      store = db.store;
    });
    afterEach(async () => {
      await db?.dispose();
    });

    const claim = () => store.claimDueTasks({ worker: 'w1', provider: 'okta', now: new Date(now), leaseMs: MINUTE, limit: 100 });
    const finish = (task: Task) => store.finishAttempt('w1', task, succeeded, succeededAttempt(task, now));

    /** A leaver filed under their HRIS id: a disable now, a delete after it (a retention of one minute). */
    async function leaver(externalId: string, email: string) {
      const t = newTermination(now, { subjectKey: `ext:${externalId}`, subject: { externalId, emails: [email] } });
      await store.createTermination(t, [
        newTask('disable', { notBefore: new Date(now) }),
        newTask('delete', { action: 'delete_account', critical: false, dependsOn: ['disable'], notBefore: new Date(now + MINUTE) }),
      ]);
      return t;
    }

    it('keeps a due delete from running, never the revocation, and lets it run once released', async () => {
      const t = await leaver('E-100', 'held@example.com');
      // Named by email, the person is filed under the HRIS id: the hold finds that key.
      const placed = await store.placeHold({ subject: { emails: ['Held@Example.com'] } }, 'admin:legal', 'litigation 2030-17');
      expect(placed?.hold.subjectKeys).toEqual(['email:held@example.com', 'ext:E-100']);
      expect(placed?.terminations).toEqual([t.id]);

      const first = await claim();
      expect(
        first.map((x) => x.stepId),
        'the disable is never held',
      ).toEqual(['disable']);
      await finish(first[0]!);
      now += 2 * MINUTE;
      expect(await claim(), 'the due delete is held').toEqual([]);
      expect(await store.nextWakeAt(['okta']), 'a held delete does not wake the engine').toBeNull();
      const stats = await store.stats(new Date(now));
      expect(stats.legalHoldsActive).toBe(1);
      expect(stats.heldByLegalHold).toEqual([{ provider: 'okta', action: 'delete_account', count: 1 }]);
      expect(stats.oldestDueTaskAgeSeconds, 'a held delete is not stuck work').toBe(0);
      expect((await store.getTermination(t.id))?.state).toBe('running');

      expect(await store.releaseHold(placed!.hold.id, 'admin:legal', 'case closed')).toMatchObject({ releasedBy: 'admin:legal' });
      expect(await store.releaseHold(placed!.hold.id, 'admin:legal', 'again')).toBe('released');
      const after = await claim();
      expect(after.map((x) => x.stepId)).toEqual(['delete']);
      await finish(after[0]!);
      expect((await store.getTermination(t.id))?.state).toBe('completed');

      await store.linkAudit();
      const audit = (await store.listAudit(0, 100)).filter((e) => e.action.startsWith('legal_hold.'));
      expect(audit.map((e) => [e.action, e.actor, e.data.reason])).toEqual([
        ['legal_hold.placed', 'admin:legal', 'litigation 2030-17'],
        ['legal_hold.released', 'admin:legal', 'case closed'],
      ]);
      expect(audit[0]!.data.terminations).toEqual([t.id]);
    });

    it('covers a later termination of the held subject, and only that subject', async () => {
      await store.placeHold({ subject: { externalId: 'E-200', emails: [] } }, 'admin:legal', 'audit');
      const held = await leaver('E-200', 'two@example.com');
      const other = await leaver('E-201', 'other@example.com');
      for (const task of await claim()) await finish(task);
      now += 2 * MINUTE;
      const claimed = await claim();
      expect(claimed.map((x) => [x.terminationId, x.stepId])).toEqual([[other.id, 'delete']]);
      expect((await store.holdsCovering(held.id)).map((h) => h.reason)).toEqual(['audit']);
      expect(await store.holdsCovering(other.id)).toEqual([]);
    });

    it('holds one termination; says which deletes were already past stopping', async () => {
      const t = await leaver('E-300', 'three@example.com');
      for (const task of await claim()) await finish(task);
      now += 2 * MINUTE;
      const [running] = await claim();
      expect(running?.stepId).toBe('delete');
      const placed = await store.placeHold({ terminationId: t.id }, 'admin:legal', 'late hold');
      expect(placed?.alreadyRunning.map((x) => x.taskId)).toEqual([running!.id]);
      expect(placed?.hold.subjectKeys).toEqual([]);
      expect(await store.placeHold({ terminationId: 'no-such-termination' }, 'admin:legal', 'x')).toBeNull();
      expect((await store.listHolds({ active: true })).map((h) => h.terminationId)).toEqual([t.id]);
    });
  });
}
