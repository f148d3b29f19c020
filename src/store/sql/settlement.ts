/**
 * A termination's state derived from its tasks, and what operators do to tasks: complete a
 * manual step, replay failed tasks, waive a failed one. Follow-up tasks added with a failure
 * get unique step ids.
 */
import type { Selectable } from 'kysely';
import { deriveTerminationState, type SettlingTask } from '../../domain/termination-state.ts';
import type { ActionName, JsonObject, Task, TaskState, TerminationState } from '../../domain/types.ts';
import { UNRESOLVED_TERMINATION_STATES } from '../../domain/types.ts';
import type { Database } from '../schema.ts';
import type { NewTask, TaskOperations, WaiveResult } from '../store.ts';
import type { SqlAuditLog } from './audit-log.ts';
import type { SqlReverifications } from './reverifications.ts';
import { emitRevoked, emitWake, type RevokedEvent, type StoreContext, type Tx } from './context.ts';
import { withDependencies } from './read-model.ts';
import { openedJson, SEALED, sealedJson } from '../rows.ts';
import { requireTermination } from './terminations.ts';

export class SqlSettlement implements TaskOperations {
  constructor(
    private readonly ctx: StoreContext,
    private readonly auditLog: SqlAuditLog,
    /** Schedules re-verifications in the transaction that finishes a termination. */
    private readonly reverifications?: SqlReverifications,
  ) {}

  async uniqueStepIds(trx: Tx, terminationId: string, tasks: NewTask[]): Promise<NewTask[]> {
    const taken = new Set(
      (await trx.selectFrom('tasks').select('step_id').where('termination_id', '=', terminationId).execute()).map((r) => r.step_id),
    );
    return tasks.map((task) => {
      let stepId = task.stepId;
      for (let n = 2; taken.has(stepId); n += 1) stepId = `${task.stepId}#${n}`;
      taken.add(stepId);
      return { ...task, stepId, dependsOn: [] };
    });
  }

  async completeManualTask(taskId: string, actor: string, outcome: 'done' | 'not_applicable', reason: string): Promise<Task | null> {
    let revoked: RevokedEvent | null = null;
    const completed = await this.ctx.db.transaction().execute(async (trx) => {
      revoked = null;
      // Serialises with a worker settling another task of this termination, and with its cancellation.
      const owner = await trx.selectFrom('tasks').select('termination_id').where('id', '=', taskId).executeTakeFirst();
      if (owner) await this.ctx.hooks.lockTermination(trx, owner.termination_id);
      const now = this.ctx.clock().getTime();
      const state = outcome === 'done' ? 'succeeded' : 'skipped';
      const evidence: JsonObject = { completedBy: actor, outcome, reason, at: new Date(now).toISOString() };
      const updated = await trx
        .updateTable('tasks')
        .set({ state, evidence: JSON.stringify(evidence), finished_at: now, updated_at: now, attempts: 1 })
        .where('id', '=', taskId)
        .where('action', '=', 'manual')
        .where('state', '=', 'pending')
        .where('termination_id', 'in', (eb) =>
          eb.selectFrom('terminations').select('id').where('state', 'in', UNRESOLVED_TERMINATION_STATES),
        )
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) return null;
      const row = await trx.selectFrom('tasks').selectAll().where('id', '=', taskId).executeTakeFirstOrThrow();
      await this.auditLog.append(trx, {
        actor,
        action: 'task.completed_manually',
        terminationId: row.termination_id,
        taskId,
        data: { outcome, reason },
      });
      const termination = await trx.selectFrom('terminations').selectAll().where('id', '=', row.termination_id).executeTakeFirstOrThrow();
      revoked = await this.settle(trx, termination, now);
      await this.ctx.hooks.notifyOthers(trx);
      const [task] = await withDependencies(this.ctx, trx, [row]);
      return task ?? null;
    });
    if (completed) emitWake(this.ctx);
    emitRevoked(this.ctx, revoked);
    return completed;
  }

  /**
   * Derives the termination's state from its tasks after one of them finished or was
   * waived (src/domain/termination-state.ts). `termination` is its row as read in this
   * transaction after the termination's lock.
   */
  async settle(trx: Tx, termination: Selectable<Database['terminations']>, now: number): Promise<RevokedEvent | null> {
    const terminationId = termination.id;
    // A held termination only runs the brake's notification; its state waits for an operator.
    if (termination.state === 'cancelled' || termination.state === 'held') return null;
    const derived = deriveTerminationState(await settlingTasks(trx, terminationId));
    const update: { state?: TerminationState; revoked_at?: number; finished_at?: number | null; updated_at: number } = {
      updated_at: now,
    };
    if (termination.revoked_at === null && derived.revoked) update.revoked_at = now;
    if (derived.state !== termination.state) {
      update.state = derived.state;
      // A finished time only once nothing more happens without an operator.
      update.finished_at = derived.state === 'running' ? null : now;
      await this.auditLog.append(trx, {
        actor: 'engine',
        action: `termination.${derived.state}`,
        terminationId,
        data: { previousState: termination.state },
      });
      if (derived.state === 'completed' || derived.state === 'completed_with_waivers') {
        await this.reverifications?.schedule(trx, terminationId, termination.playbook, now);
      }
    }
    let revoked: RevokedEvent | null = null;
    if (update.revoked_at !== undefined) {
      // Time to revoke counts from the effective time, or from receipt when that is later.
      revoked = { terminationId, timeToRevokeMs: now - Math.max(Number(termination.effective_at), Number(termination.requested_at)) };
      await this.auditLog.append(trx, {
        actor: 'engine',
        action: 'termination.revoked',
        terminationId,
        data: { timeToRevokeMs: revoked.timeToRevokeMs },
      });
    }
    await trx.updateTable('terminations').set(update).where('id', '=', terminationId).execute();
    return revoked;
  }

  /**
   * An operator settles a failed task without running it again: `waived`, with who and why
   * in the task's evidence and the audit chain. Its dependants, and a destructive step at
   * its provider, may then run. Null when the task is not a failed task of that termination.
   */
  async waiveTask(terminationId: string, taskId: string, actor: string, reason: string): Promise<WaiveResult | null> {
    let revoked: RevokedEvent | null = null;
    const waived = await this.ctx.db.transaction().execute(async (trx) => {
      revoked = null;
      // The termination's lock before any row is written, as cancelTermination takes it: a worker
      // settling another of its tasks, or a cancellation, never interleaves with the waiver.
      await this.ctx.hooks.lockTermination(trx, terminationId);
      const now = this.ctx.clock().getTime();
      const row = await trx
        .selectFrom('tasks')
        .selectAll()
        .where('id', '=', taskId)
        .where('termination_id', '=', terminationId)
        .where('state', '=', 'failed')
        .executeTakeFirst();
      if (!row) return null;
      const termination = await trx.selectFrom('terminations').selectAll().where('id', '=', terminationId).executeTakeFirstOrThrow();
      if (termination.state === 'cancelled') return null;
      const keys = await this.ctx.personal.read(trx, [terminationId]);
      const before = openedJson(keys, terminationId, SEALED.evidence, row.evidence);
      const evidence: JsonObject = {
        waivedBy: actor,
        reason,
        at: new Date(now).toISOString(),
        ...(before ? { evidenceBeforeWaiver: before } : {}),
      };
      const updated = await trx
        .updateTable('tasks')
        .set({ state: 'waived', evidence: sealedJson(keys, terminationId, SEALED.evidence, evidence), finished_at: now, updated_at: now })
        .where('id', '=', taskId)
        // Still failed: a replay or another waiver committed meanwhile wins.
        .where('state', '=', 'failed')
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) return null;
      await this.auditLog.append(trx, {
        actor,
        action: 'task.waived',
        terminationId,
        taskId,
        data: {
          reason,
          provider: row.provider,
          action: row.action,
          lastError: openedJson(keys, terminationId, SEALED.lastError, row.last_error),
        },
      });
      revoked = await this.settle(trx, termination, now);
      await this.ctx.hooks.notifyOthers(trx);
      const [task] = await withDependencies(this.ctx, trx, [
        await trx.selectFrom('tasks').selectAll().where('id', '=', taskId).executeTakeFirstOrThrow(),
      ]);
      return { task: task!, termination: await requireTermination(this.ctx, trx, terminationId) };
    });
    if (waived) emitWake(this.ctx);
    emitRevoked(this.ctx, revoked);
    return waived;
  }

  async replayFailedTasks(terminationId: string, taskId: string | null, actor: string): Promise<Task[]> {
    const replayed = await this.ctx.db.transaction().execute(async (trx) => {
      // Serialises with workers settling this termination, so neither derives its state from a stale read.
      await this.ctx.hooks.lockTermination(trx, terminationId);
      const now = this.ctx.clock().getTime();
      let query = trx.selectFrom('tasks').selectAll().where('termination_id', '=', terminationId).where('state', '=', 'failed');
      if (taskId) query = query.where('id', '=', taskId);
      const rows = await query.execute();
      const keys = await this.ctx.personal.read(trx, [terminationId]);
      const replayedIds: string[] = [];
      for (const row of rows) {
        const updated = await trx
          .updateTable('tasks')
          .set({
            state: 'pending',
            attempts: 0,
            rate_limited_count: 0,
            // An operator's replay redoes the action from the start: no step is taken as done.
            checkpoint: null,
            next_attempt_at: now,
            due_at: Math.max(now, Number(row.not_before)),
            finished_at: null,
            updated_at: now,
          })
          .where('id', '=', row.id)
          // Still failed: a waiver committed meanwhile is final.
          .where('state', '=', 'failed')
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 0) continue;
        replayedIds.push(row.id);
        await this.auditLog.append(trx, {
          actor,
          action: 'task.replayed',
          terminationId,
          taskId: row.id,
          data: {
            provider: row.provider,
            action: row.action,
            lastError: openedJson(keys, terminationId, SEALED.lastError, row.last_error),
          },
        });
      }
      if (replayedIds.length === 0) return [];
      await trx
        .updateTable('terminations')
        .set({ state: 'running', finished_at: null, updated_at: now })
        .where('id', '=', terminationId)
        .where('state', '=', 'failed')
        .execute();
      await this.ctx.hooks.notifyOthers(trx);
      const fresh = await trx.selectFrom('tasks').selectAll().where('id', 'in', replayedIds).execute();
      return withDependencies(this.ctx, trx, fresh);
    });
    if (replayed.length > 0) emitWake(this.ctx);
    return replayed;
  }
}

/**
 * A termination's tasks as the state derivation needs them. Dependency edges matter only
 * for telling tasks held back by a failure from live ones, so without a failed task (the
 * common case, on every task a worker finishes) they are not read.
 */
async function settlingTasks(trx: Tx, terminationId: string): Promise<SettlingTask[]> {
  const rows = await trx
    .selectFrom('tasks')
    .select(['id', 'state', 'critical', 'provider', 'action'])
    .where('termination_id', '=', terminationId)
    .execute();
  const edges = rows.some((r) => r.state === 'failed')
    ? await trx
        .selectFrom('task_dependencies as d')
        .innerJoin('tasks as t', 't.id', 'd.task_id')
        .select(['d.task_id', 'd.depends_on_task_id'])
        .where('t.termination_id', '=', terminationId)
        .execute()
    : [];
  const dependsOn = new Map<string, string[]>();
  for (const edge of edges) dependsOn.set(edge.task_id, [...(dependsOn.get(edge.task_id) ?? []), edge.depends_on_task_id]);
  return rows.map((r) => ({
    id: r.id,
    state: r.state as TaskState,
    critical: Boolean(r.critical),
    provider: r.provider,
    action: r.action as ActionName,
    dependsOnIds: dependsOn.get(r.id) ?? [],
  }));
}
