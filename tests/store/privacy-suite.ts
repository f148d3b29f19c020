/**
 * Personal data at rest (issue 29), on every backend: the store keeps no identifier, name
 * or reason of a subject in clear in any table, yet reads them back; destroying a record's
 * data key leaves ciphertext and pseudonyms, and the audit chain still verifies; records
 * written before the keyring are sealed at start.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/audit/verify.ts';
import { verifyReceipt } from '../../src/privacy/receipt.ts';
import { pseudonymOf } from '../../src/privacy/pseudonym.ts';
import type { DialectHooks } from '../../src/store/sql/context.ts';
import type { PersonalData } from '../../src/store/sql/personal-data.ts';
import type { SqlStore } from '../../src/store/sql-store.ts';
import type { Database } from '../../src/store/schema.ts';
import type { Kysely } from 'kysely';
import { newTask, newTermination } from './suite.ts';

const T0 = Date.UTC(2030, 0, 1, 9, 0, 0);
const MINUTE = 60_000;

/** Every identifier, name and free text of the subject below: none may be found in the raw store. */
export const PERSONAL = ['hr-7741', 'marie.curie', 'sklodowska', 'pierre@lab', 'sorbonne', '00u-marie'];

export interface PrivacyBackend {
  name: string;
  open(clock: () => Date): Promise<{
    store: SqlStore;
    /** Every byte of the store as an attacker with a copy would see it (SQLite: the files; PostgreSQL: a pg_dump and every column). */
    raw(): Promise<string>;
    /** The same of the keyring. */
    rawKeyring(): Promise<string>;
    dispose(): Promise<void>;
  }>;
}

interface Internals {
  db: Kysely<Database>;
  personal: PersonalData;
  hooks: DialectHooks;
}

function internals(store: SqlStore): Internals {
  return (store as unknown as { ctx: Internals }).ctx;
}

export function definePrivacySuite(backend: PrivacyBackend): void {
  describe(`Personal data at rest on ${backend.name}`, () => {
    const now = T0;
    let opened: Awaited<ReturnType<PrivacyBackend['open']>>;
    let store: SqlStore;

    beforeEach(async () => {
      opened = await backend.open(() => new Date(now));
      store = opened.store;
      // No later read-backs: the leaver's termination is finished once its one step is, and may be erased.
      store.setReverifySchedule(() => []);
    });
    afterEach(async () => {
      await opened?.dispose();
    });

    const subject = {
      externalId: 'HR-7741',
      userName: 'marie.curie@lab.example',
      displayName: 'Marie Sklodowska',
      emails: ['marie.curie@lab.example'],
      manager: { email: 'pierre@lab.example' },
    };

    async function leaverWithHistory() {
      const t = newTermination(now, { subjectKey: 'ext:HR-7741', subject, reason: 'left for the Sorbonne' });
      await store.createTermination(t, [newTask('disable', { notBefore: new Date(now) })]);
      const [task] = await store.claimDueTasks({
        worker: 'w1',
        provider: 'okta',
        now: new Date(now),
        leaseMs: MINUTE,
        limit: 10,
      });
      const evidence = { login: 'marie.curie@lab.example', status: 'SUSPENDED' };
      await store.finishAttempt(
        'w1',
        task!,
        { state: 'succeeded', evidence, account: { id: '00u-marie' } },
        {
          taskId: task!.id,
          attempt: task!.attempts,
          worker: 'w1',
          startedAt: new Date(now),
          finishedAt: new Date(now),
          outcome: 'succeeded',
          errorKind: null,
          errorMessage: 'user marie.curie@lab.example was already suspended',
          evidence,
        },
      );
      const hold = await store.placeHold({ subject: { emails: ['Marie.Curie@lab.example'] } }, 'admin:legal', 'tax audit');
      await store.releaseHold(hold!.hold.id, 'admin:legal', 'closed');
      await store.linkAudit();
      return { t, hold: hold!.hold };
    }

    it('keeps no identifier, name or reason in clear in any table, and reads them all back', async () => {
      const { t, hold } = await leaverWithHistory();
      const raw = (await opened.raw()).toLowerCase();
      for (const value of PERSONAL) expect(raw.includes(value), `"${value}" in the raw store`).toBe(false);
      // ... and the store reads it all back.
      const read = await store.getTermination(t.id);
      expect(read?.subject).toEqual(subject);
      expect(read?.subjectKey).toBe('ext:HR-7741');
      expect(read?.reason).toBe('left for the Sorbonne');
      expect((await store.findOpenTermination('ext:HR-7741'))?.id ?? 'none', 'completed: not open').toBe('none');
      expect((await store.listTerminations({ search: 'MARIE.CURIE@lab.example', limit: 5 })).items.map((x) => x.id)).toEqual([t.id]);
      const [task] = await store.listTasks(t.id);
      expect(task?.evidence).toMatchObject({ login: 'marie.curie@lab.example' });
      expect(task?.account).toEqual({ id: '00u-marie' });
      expect((await store.listAttempts(t.id))[0]?.errorMessage).toBe('user marie.curie@lab.example was already suspended');
      const audit = await store.listAuditOf(t.id);
      expect(audit.find((e) => e.action === 'termination.created')?.data).toMatchObject({ playbook: t.playbook });
      expect(audit.find((e) => e.action === 'task.succeeded')?.data).toMatchObject({ evidence: { login: 'marie.curie@lab.example' } });
      const [listed] = await store.listHolds();
      expect(listed?.id).toBe(hold.id);
      expect(listed?.subjectKeys).toEqual(['email:marie.curie@lab.example', 'ext:HR-7741']);
      expect(listed?.subject).toEqual({ emails: ['Marie.Curie@lab.example'] });
    });

    it('once the data keys are destroyed, reads a pseudonym and erased values, and the audit chain still verifies', async () => {
      const { t, hold } = await leaverWithHistory();
      const { db, personal } = internals(store);
      expect(await personal.destroy(db, [t.id, hold.id])).toBe(2);
      const read = await store.getTermination(t.id);
      expect(read?.subject).toEqual({ userName: pseudonymOf(t.id), emails: [] });
      expect(read?.subjectKey).toBe(pseudonymOf(t.id));
      expect(read?.reason).toBe('[erased]');
      const [task] = await store.listTasks(t.id);
      expect(task?.evidence).toEqual({ erased: true });
      expect(task?.state, 'what was done stays on record').toBe('succeeded');
      expect((await store.listAuditOf(t.id)).find((e) => e.action === 'task.succeeded')?.data).toEqual({ erased: true });
      expect((await store.listHolds())[0]?.subject).toEqual({ userName: '[erased]', emails: [] });
      const report = await verifyAuditChain((after, limit) => store.listAudit(after, limit), await store.auditAnchor());
      expect(report).toMatchObject({ ok: true });
    });

    it('erases a person: no identifier in any byte of the store, the key gone from the keyring, the chain whole, a receipt that verifies', async () => {
      const { t } = await leaverWithHistory();
      expect((await opened.rawKeyring()).includes(t.id), 'the key is in the keyring before').toBe(true);
      const receipt = await store.eraseTermination(t.id, 'admin:dpo', 'GDPR Art. 17 request 2030-3');
      expect(receipt).not.toBeNull();
      expect(verifyReceipt(receipt, store.erasureKey().publicKeyPem)).toMatchObject({ valid: true });
      // PostgreSQL keeps a deleted row while a transaction older than the deletion is open (another
      // test's, here): the purge is final once none is, and an erasure's purge is then tried again.
      let purges = 0;
      while ((await opened.rawKeyring()).includes(t.id) && purges < 20) {
        purges += 1;
        await new Promise((resolve) => setTimeout(resolve, 100));
        await internals(store).hooks.purge();
      }
      expect((await opened.rawKeyring()).includes(t.id), 'the key is gone from every byte of the keyring').toBe(false);
      const raw = (await opened.raw()).toLowerCase();
      for (const value of PERSONAL) expect(raw.includes(value), `"${value}" in the raw store`).toBe(false);
      const read = await store.getTermination(t.id);
      expect(read?.subject).toEqual({ userName: pseudonymOf(t.id), emails: [] });
      expect((await store.listTasks(t.id))[0]?.state, 'what was done stays on record').toBe('succeeded');
      expect(await verifyAuditChain((after, limit) => store.listAudit(after, limit), await store.auditAnchor())).toMatchObject({
        ok: true,
      });
    });

    it('seals records written before the keyring when the store starts, and finds them by their keys', async () => {
      const { db } = internals(store);
      const legacy = newTermination(now, { subjectKey: 'ext:HR-7741', subject, reason: 'left for the Sorbonne' });
      await db
        .insertInto('terminations')
        .values({
          id: legacy.id,
          source: legacy.source,
          source_event_id: null,
          subject_key: 'ext:HR-7741',
          subject_keys: JSON.stringify(['ext:HR-7741', 'user:marie.curie@lab.example', 'email:marie.curie@lab.example']),
          subject: JSON.stringify(subject),
          reason: 'left for the Sorbonne',
          playbook: legacy.playbook,
          state: 'running',
          requested_at: now,
          effective_at: now,
          revoked_at: null,
          finished_at: null,
          created_by: 'test',
          created_at: now,
          updated_at: now,
        })
        .execute();
      expect((await opened.raw()).toLowerCase().includes('sklodowska'), 'the legacy row is in clear').toBe(true);
      await store.migrate();
      const raw = (await opened.raw()).toLowerCase();
      for (const value of PERSONAL) expect(raw.includes(value), `"${value}" in the raw store`).toBe(false);
      expect((await store.findOpenTermination('email:MARIE.CURIE@lab.example'.toLowerCase()))?.id ?? 'none').toBe('none');
      expect((await store.findOpenTermination('ext:HR-7741'))?.subject).toEqual(subject);
    });
  });
}
