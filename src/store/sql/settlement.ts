/**
 * A termination's state derived from its tasks, and what operators do to tasks: complete a
 * manual step, replay failed tasks. Follow-up tasks added with a failure get unique step ids.
 */
import type { Selectable } from 'kysely';
import type { JsonObject, Task, TerminationState } from '../../domain/types.ts';
import { UNRESOLVED_TERMINATION_STATES } from '../../domain/types.ts';
import type { Database } from '../schema.ts';
import type { NewTask, TaskOperations } from '../store.ts';
import type { SqlAuditLog } from './audit-log.ts';
import { emitRevoked, emitWake, type RevokedEvent, type StoreContext, type Tx } from './context.ts';
import { withDependencies } from './read-model.ts';

export class SqlSettlement implements TaskOperations {
  constructor(
    private readonly ctx: StoreContext,
    private readonly auditLog: SqlAuditLog,
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
        .where('termination_id', 'in', (eb) => eb.selectFrom('terminations').select('id').where('state', 'in', UNRESOLVED_TERMINATION_STATES))
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) return null;
      const row = await trx.selectFrom('tasks').selectAll().where('id', '=', taskId).executeTakeFirstOrThrow();
      await this.auditLog.append(trx, { actor, action: 'task.completed_manually', terminationId: row.termination_id, taskId, data: { outcome, reason } });
      const termination = await trx.selectFrom('terminations').selectAll().where('id', '=', row.termination_id).executeTakeFirstOrThrow();
      revoked = await this.settle(trx, termination, now);
      await this.ctx.hooks.notifyOthers(trx);
      const [task] = await withDependencies(trx, [row]);
      return task ?? null;
    });
    if (completed) emitWake(this.ctx);
    emitRevoked(this.ctx, revoked);
    return completed;
  }

  /**
   * Derives the termination's state from its tasks after one of them finished. `termination`
   * is its row as read in this transaction after the termination's lock.
   */
  async settle(
    trx: Tx,
    termination: Selectable<Database['terminations']>,
    now: number,
  ): Promise<RevokedEvent | null> {
    const terminationId = termination.id;
    // A held termination only runs the brake's notification; its state waits for an operator.
    if (termination.state === 'cancelled' || termination.state === 'held') return null;
    const tasks = await trx
      .selectFrom('tasks')
      .select(['state', 'critical'])
      .where('termination_id', '=', terminationId)
      .execute();
    const update: { state?: TerminationState; revoked_at?: number; finished_at?: number | null; updated_at: number } = {
      updated_at: now,
    };
    const critical = tasks.filter((t) => t.critical);
    if (termination.revoked_at === null && critical.length > 0 && critical.every((t) => ['succeeded', 'skipped'].includes(t.state))) {
      update.revoked_at = now;
    }
    const anyFailed = tasks.some((t) => t.state === 'failed');
    const allDone = tasks.every((t) => ['succeeded', 'skipped', 'cancelled'].includes(t.state));
    const next: TerminationState = anyFailed ? 'failed' : allDone ? 'completed' : 'running';
    if (next !== termination.state) {
      update.state = next;
      update.finished_at = next === 'completed' || next === 'failed' ? now : null;
      await this.auditLog.append(trx, {
        actor: 'engine',
        action: `termination.${next}`,
        terminationId,
        data: { previousState: termination.state },
      });
    }
    let revoked: RevokedEvent | null = null;
    if (update.revoked_at !== undefined) {
      // Time to revoke counts from the effective time, or from receipt when that is later.
      revoked = { terminationId, timeToRevokeMs: now - Math.max(Number(termination.effective_at), Number(termination.requested_at)) };
      await this.auditLog.append(trx, { actor: 'engine', action: 'termination.revoked', terminationId, data: { timeToRevokeMs: revoked.timeToRevokeMs } });
    }
    await trx.updateTable('terminations').set(update).where('id', '=', terminationId).execute();
    return revoked;
  }


  async replayFailedTasks(terminationId: string, taskId: string | null, actor: string): Promise<Task[]> {
    const replayed = await this.ctx.db.transaction().execute(async (trx) => {
      const now = this.ctx.clock().getTime();
      let query = trx.selectFrom('tasks').selectAll().where('termination_id', '=', terminationId).where('state', '=', 'failed');
      if (taskId) query = query.where('id', '=', taskId);
      const rows = await query.execute();
      if (rows.length === 0) return [];
      for (const row of rows) {
        await trx
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
          .execute();
        await this.auditLog.append(trx, {
          actor,
          action: 'task.replayed',
          terminationId,
          taskId: row.id,
          data: { provider: row.provider, action: row.action, lastError: row.last_error ? JSON.parse(row.last_error) : null },
        });
      }
      await trx
        .updateTable('terminations')
        .set({ state: 'running', finished_at: null, updated_at: now })
        .where('id', '=', terminationId)
        .where('state', '=', 'failed')
        .execute();
      await this.ctx.hooks.notifyOthers(trx);
      const fresh = await trx.selectFrom('tasks').selectAll().where('id', 'in', rows.map((r) => r.id)).execute();
      return withDependencies(trx, fresh);
    });
    if (replayed.length > 0) emitWake(this.ctx);
    return replayed;
  }

}
