/**
 * An organization's expansion in the store (src/store/sql/member-tasks.ts), on every backend:
 * the result of `expand_members` creates each member's tasks in its own transaction, keyed so
 * that nothing is created twice, and what came after the expansion waits for them all.
 */
import type { PersonalData } from '../../src/store/sql/personal-data.ts';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Expansion } from '../../src/domain/members.ts';
import type { Task } from '../../src/domain/types.ts';
import type { Database } from '../../src/store/schema.ts';
import { insertMemberTasks } from '../../src/store/sql/member-tasks.ts';
import type { SqlStore } from '../../src/store/sql-store.ts';
import type { AttemptOutcome } from '../../src/store/store.ts';
import type { StoreBackend, TestDatabase } from './backends.ts';
import { newTask, newTermination, succeededAttempt } from './suite.ts';

const T0 = Date.UTC(2030, 0, 1, 9, 0, 0);
const MINUTE = 60_000;

const member = (n: number) => ({
  id: `00u${n}`,
  email: `m${n}@acme.example`,
  login: `m${n}@acme.example`,
  account: { id: `00u${n}`, login: `m${n}@acme.example` },
});
const expansionOf = (...ns: number[]): Expansion => ({ members: ns.map(member), actions: ['revoke_sessions', 'disable_account'] });
const expanded = (expansion: Expansion): AttemptOutcome => ({
  state: 'succeeded',
  evidence: { members: expansion.members.length },
  account: null,
  expansion,
});
const done: AttemptOutcome = { state: 'succeeded', evidence: { status: 'SUSPENDED' }, account: null };

export function defineMemberExpansionSuite(backend: StoreBackend): void {
  describe(`Member expansion on ${backend.name}`, () => {
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

    const claim = (provider = 'okta') => store.claimDueTasks({ worker: 'w1', provider, now: new Date(now), leaseMs: MINUTE, limit: 1000 });
    const finish = (task: Task, outcome: AttemptOutcome) => store.finishAttempt('w1', task, outcome, succeededAttempt(task, now));

    /** An organization: expand at Okta, then a notification that waits for the expansion. */
    async function organization() {
      const t = newTermination(now, {
        subjectKey: 'org:acme',
        subject: { emails: [], organization: { id: 'acme', domains: ['acme.example'] } },
        playbook: 'customer',
      });
      await store.createTermination(t, [
        newTask('okta-members', { action: 'expand_members', params: { actions: ['revoke_sessions', 'disable_account'] } }),
        newTask('notify-done', { provider: 'security', action: 'notify', critical: false, dependsOn: ['okta-members'] }),
      ]);
      return t;
    }

    it('creates one task per member and action, with the member and their account, and audits the expansion', async () => {
      const t = await organization();
      const [expansion] = await claim();
      expect(await finish(expansion!, expanded(expansionOf(1, 2, 3)))).toBe(true);

      const tasks = await store.listTasks(t.id);
      const members = tasks.filter((x) => x.stepId.startsWith('okta-members/'));
      expect(members.map((x) => x.stepId).sort()).toEqual([
        'okta-members/00u1/disable_account',
        'okta-members/00u1/revoke_sessions',
        'okta-members/00u2/disable_account',
        'okta-members/00u2/revoke_sessions',
        'okta-members/00u3/disable_account',
        'okta-members/00u3/revoke_sessions',
      ]);
      const one = members.find((x) => x.stepId === 'okta-members/00u2/disable_account')!;
      expect(one).toMatchObject({ provider: 'okta', action: 'disable_account', critical: true, state: 'pending' });
      expect(one.account).toEqual({ id: '00u2', login: 'm2@acme.example' });
      expect(one.params).toEqual({ member: { id: '00u2', email: 'm2@acme.example', login: 'm2@acme.example' } });
      expect((await store.getTermination(t.id))?.state, 'members left to do keep it running').toBe('running');
      // The client's people are personal data: their params and accounts are sealed at rest (docs/privacy.md).
      const { db: kysely } = (store as unknown as { ctx: { db: Kysely<Database> } }).ctx;
      const stored = await kysely
        .selectFrom('tasks')
        .select(['params', 'account'])
        .where('termination_id', '=', t.id)
        .where('step_id', 'like', 'okta-members/%')
        .execute();
      expect(stored.filter((r) => r.params.includes('acme.example') || r.account?.includes('acme.example'))).toEqual([]);

      const audit = (await store.listAuditOf(t.id)).filter((e) => e.action === 'task.expanded');
      expect(audit).toHaveLength(1);
      expect(audit[0]!.data).toMatchObject({ members: 3, memberIds: ['00u1', '00u2', '00u3'], tasksCreated: 6, tasksAlreadyThere: 0 });
    });

    it('holds what came after the expansion until every member task settled', async () => {
      const t = await organization();
      const [expansion] = await claim();
      await finish(expansion!, expanded(expansionOf(1, 2)));
      expect(await claim('security'), 'the notification waits for the members').toEqual([]);
      const members = await claim();
      expect(members).toHaveLength(4);
      for (const task of members.slice(0, 3)) await finish(task, done);
      expect(await claim('security'), 'one member task is left').toEqual([]);
      await finish(members[3]!, done);
      const released = await claim('security');
      expect(released.map((x) => x.stepId)).toEqual(['notify-done']);
      await finish(released[0]!, done);
      expect((await store.getTermination(t.id))?.state).toBe('completed');
    });

    it('an expansion retried after its result was lost creates its member tasks once', async () => {
      const t = await organization();
      const [first] = await claim();
      // The first attempt's answer is lost: its lease expires and the step is claimed again.
      now += 2 * MINUTE;
      const [second] = await claim();
      expect(second!.id).toBe(first!.id);
      expect(await finish(second!, expanded(expansionOf(1, 2, 3))), 'the current holder records its result').toBe(true);
      expect(await finish(first!, expanded(expansionOf(1, 2, 3, 4))), 'the stale result changes nothing').toBe(false);
      const members = (await store.listTasks(t.id)).filter((x) => x.stepId.startsWith('okta-members/'));
      expect(members).toHaveLength(6);
    });

    it('keys member tasks by (expansion step, member, action): writing the same expansion again adds only the new members', async () => {
      const t = await organization();
      const [expansion] = await claim();
      await finish(expansion!, expanded(expansionOf(1, 2)));
      const { db: kysely, personal } = (store as unknown as { ctx: { db: Kysely<Database>; personal: PersonalData } }).ctx;
      const parent = await kysely.selectFrom('tasks').selectAll().where('id', '=', expansion!.id).executeTakeFirstOrThrow();
      const written = await kysely.transaction().execute((trx) => insertMemberTasks(trx, parent, expansionOf(1, 2, 3), now, personal));
      expect(written).toEqual({ created: 2, existing: 4 });
      const tasks = await store.listTasks(t.id);
      expect(tasks.filter((x) => x.stepId.startsWith('okta-members/'))).toHaveLength(6);
      const notify = tasks.find((x) => x.stepId === 'notify-done')!;
      expect(notify.dependsOn, 'the dependant waits for the expansion and each of its six member tasks').toHaveLength(7);
    });
  });
}
