/**
 * Terminations as intake and operators change them: creation with de-duplication and the
 * blast-radius brake, cancellation, approval of a held termination.
 */
import { UNRESOLVED_TERMINATION_STATES, type Termination, type TerminationState } from '../../domain/types.ts';
import { toTermination } from '../rows.ts';
import type { CreateOptions, CreateTerminationResult, NewTask, NewTermination, TerminationRecords } from '../store.ts';
import type { SqlAuditLog } from './audit-log.ts';
import { emitWake, type StoreContext, type Tx } from './context.ts';
import { insertTasks } from './insert-tasks.ts';
import { UNRESOLVED } from './runnable.ts';

export class SqlTerminations implements TerminationRecords {
  constructor(
    private readonly ctx: StoreContext,
    private readonly auditLog: SqlAuditLog,
  ) {}

  async createTermination(termination: NewTermination, tasks: NewTask[], options: CreateOptions = {}): Promise<CreateTerminationResult> {
    const { db, hooks } = this.ctx;
    try {
      const result = await db.transaction().execute(async (trx) => {
        const existing = await this.findDuplicate(trx, termination);
        if (existing) return { termination: existing, created: false };
        const held = options.brake ? await this.brakeEngaged(trx, options.brake) : false;
        const created = await this.insertTermination(trx, held ? { ...termination, state: 'held' } : termination, tasks, held ? (options.onHeld ?? []) : []);
        await hooks.notifyOthers(trx);
        return { termination: created, created: true };
      });
      if (result.created) emitWake(this.ctx);
      return result;
    } catch (error) {
      // Two deliveries raced past the duplicate check; the unique index let one win.
      if (!hooks.isUniqueViolation(error)) throw error;
      const existing = await db.transaction().execute((trx) => this.findDuplicate(trx, termination));
      if (!existing) throw error;
      return { termination: existing, created: false };
    }
  }

  /**
   * Counted inside the creating transaction; on PostgreSQL two racing creations may both pass
   * at the edge. Counts no further than `max`: in the burst the brake is for, counting the
   * whole window made each new termination cost more than the one before.
   */
  private async brakeEngaged(trx: Tx, brake: { max: number; since: Date }): Promise<boolean> {
    const row = await trx
      .selectFrom((eb) => eb.selectFrom('terminations').select('id').where('requested_at', '>=', brake.since.getTime()).limit(brake.max).as('recent'))
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirst();
    return Number(row?.count ?? 0) >= brake.max;
  }

  private async findDuplicate(trx: Tx, t: NewTermination): Promise<Termination | null> {
    if (t.sourceEventId !== null) {
      const row = await trx
        .selectFrom('terminations')
        .selectAll()
        .where('source', '=', t.source)
        .where('source_event_id', '=', t.sourceEventId)
        .executeTakeFirst();
      if (row) return toTermination(row);
    }
    const open = await trx
      .selectFrom('terminations')
      .selectAll()
      .where('subject_key', '=', t.subjectKey)
      .where(UNRESOLVED)
      .executeTakeFirst();
    return open ? toTermination(open) : null;
  }

  /** Returns the row as stored (RETURNING), which spares reading it back. */
  private async insertTermination(trx: Tx, t: NewTermination, tasks: NewTask[], whileHeld: NewTask[]): Promise<Termination> {
    const now = this.ctx.clock().getTime();
    const row = await trx
      .insertInto('terminations')
      .values({
        id: t.id,
        source: t.source,
        source_event_id: t.sourceEventId,
        subject_key: t.subjectKey,
        subject: JSON.stringify(t.subject),
        reason: t.reason,
        playbook: t.playbook,
        state: t.state,
        requested_at: t.requestedAt.getTime(),
        effective_at: t.effectiveAt.getTime(),
        revoked_at: null,
        finished_at: null,
        created_by: t.createdBy,
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await insertTasks(trx, t.id, tasks, now);
    await insertTasks(trx, t.id, whileHeld, now, { runsWhileHeld: true });
    const all = [...tasks, ...whileHeld];
    await this.auditLog.append(trx, {
      actor: t.createdBy,
      action: 'termination.created',
      terminationId: t.id,
      data: {
        source: t.source,
        sourceEventId: t.sourceEventId,
        state: t.state,
        playbook: t.playbook,
        effectiveAt: t.effectiveAt.toISOString(),
        tasks: all.map((task) => `${task.stepId}:${task.provider}.${task.action}`),
      },
    });
    return toTermination(row);
  }

  async cancelTermination(id: string, actor: string, reason: string): Promise<Termination | null> {
    return this.ctx.db.transaction().execute(async (trx) => {
      // The termination's lock before any row lock: a worker settling one of its tasks
      // (finishAttempt) takes it too, so a cancellation and a settlement never interleave.
      await this.ctx.hooks.lockTermination(trx, id);
      const row = await trx.selectFrom('terminations').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return null;
      if (!UNRESOLVED_TERMINATION_STATES.includes(row.state as TerminationState)) return toTermination(row);
      const now = this.ctx.clock().getTime();
      const cancelled = await trx
        .updateTable('tasks')
        .set({ state: 'cancelled', finished_at: now, updated_at: now, lease_owner: null, lease_expires_at: null })
        .where('termination_id', '=', id)
        .where('state', 'in', ['pending', 'failed'])
        .executeTakeFirst();
      await trx.updateTable('terminations').set({ state: 'cancelled', finished_at: now, updated_at: now }).where('id', '=', id).execute();
      await this.auditLog.append(trx, {
        actor,
        action: 'termination.cancelled',
        terminationId: id,
        data: { reason, previousState: row.state, tasksCancelled: Number(cancelled.numUpdatedRows) },
      });
      return requireTermination(trx, id);
    });
  }

  async approveTermination(id: string, actor: string): Promise<Termination | null> {
    const approved = await this.ctx.db.transaction().execute(async (trx) => {
      const now = this.ctx.clock().getTime();
      const updated = await trx
        .updateTable('terminations')
        .set({ state: 'scheduled', updated_at: now })
        .where('id', '=', id)
        .where('state', '=', 'held')
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) return null;
      await this.auditLog.append(trx, { actor, action: 'termination.approved', terminationId: id, data: {} });
      await this.ctx.hooks.notifyOthers(trx);
      return requireTermination(trx, id);
    });
    if (approved) emitWake(this.ctx);
    return approved;
  }

  async findOpenTermination(subjectKey: string): Promise<Termination | null> {
    const row = await this.ctx.db.selectFrom('terminations').selectAll().where('subject_key', '=', subjectKey).where(UNRESOLVED).executeTakeFirst();
    return row ? toTermination(row) : null;
  }
}

export async function requireTermination(trx: Tx, id: string): Promise<Termination> {
  return toTermination(await trx.selectFrom('terminations').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
}
