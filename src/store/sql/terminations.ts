/**
 * Terminations as intake and operators change them: creation under the one rule for a
 * second request of a subject (repeat, supersede, conflict, bring forward, join; the open
 * termination's side is in open-termination.ts) and the blast-radius brake, cancellation
 * with the channel's authority, approval of a held termination.
 */
import type { Selectable } from 'kysely';
import { keysOf } from '../../domain/subject.ts';
import { CancellationRefusedError, OpenTerminationConflictError, ReusedRequestIdError } from '../../domain/termination-conflicts.ts';
import { UNRESOLVED_TERMINATION_STATES, type Termination, type TerminationState } from '../../domain/types.ts';
import { SEALED, toTermination } from '../rows.ts';
import type { TerminationsTable } from '../schema.ts';
import type {
  CancelAuthority,
  CreateOptions,
  CreateOutcome,
  CreateTerminationResult,
  NewTask,
  NewTermination,
  TerminationRecords,
} from '../store.ts';
import type { SqlAuditLog } from './audit-log.ts';
import { emitWake, type StoreContext, type Tx } from './context.ts';
import { insertTasks } from './insert-tasks.ts';
import { OpenTerminationRule, requestedByOf } from './open-termination.ts';
import { UNRESOLVED } from './runnable.ts';
import { endCancelled } from './end-cancelled.ts';

export class SqlTerminations implements TerminationRecords {
  private readonly openTerminations: OpenTerminationRule;

  constructor(
    private readonly ctx: StoreContext,
    private readonly auditLog: SqlAuditLog,
  ) {
    this.openTerminations = new OpenTerminationRule(ctx, auditLog);
  }

  async createTermination(termination: NewTermination, tasks: NewTask[], options: CreateOptions = {}): Promise<CreateTerminationResult> {
    const { db, hooks } = this.ctx;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const decided = await db.transaction().execute((trx) => this.decide(trx, termination, tasks, options));
        if (decided instanceof Error) throw decided;
        if (decided.outcome !== 'joined' && !decided.duplicate) emitWake(this.ctx);
        return decided;
      } catch (error) {
        // Two requests for one subject (or one event) raced past the checks and a unique
        // index let one win: the other decides again, now seeing the winner.
        if (attempt < 3 && hooks.isUniqueViolation(error)) continue;
        throw error;
      }
    }
  }

  /** The rule of `TerminationRecords.createTermination`, inside its transaction; a refusal is returned (nothing written) and thrown by the caller. */
  private async decide(trx: Tx, t: NewTermination, tasks: NewTask[], options: CreateOptions): Promise<CreateTerminationResult | Error> {
    const request = options.request ?? {};
    if (t.sourceEventId !== null) {
      const earlier = await this.findRequest(trx, t.source, t.sourceEventId);
      if (earlier) {
        if (request.bodySha256 && earlier.bodySha256 && request.bodySha256 !== earlier.bodySha256) {
          return new ReusedRequestIdError(t.source, t.sourceEventId, earlier.terminationId);
        }
        const termination = await requireTermination(this.ctx, trx, earlier.terminationId);
        return { termination, created: false, outcome: earlier.outcome, duplicate: true };
      }
    }
    const open = await this.openTerminations.lockOpen(trx, t.subjectKey);
    let result: CreateTerminationResult;
    if (!open) {
      result = { termination: await this.create(trx, t, tasks, options), created: true, outcome: 'created', duplicate: false };
    } else if (request.supersede) {
      await this.openTerminations.supersede(trx, open, t);
      const termination = await this.create(trx, t, tasks, options, open.termination.id);
      result = { termination, created: true, outcome: 'superseded', duplicate: false, supersededId: open.termination.id };
    } else if ((request.playbookNamed ?? true) && t.playbook !== open.termination.playbook) {
      return new OpenTerminationConflictError(open.termination, t.playbook);
    } else if (t.effectiveAt.getTime() < open.termination.effectiveAt.getTime()) {
      const termination = await this.openTerminations.bringForward(trx, open, t);
      result = { termination, created: false, outcome: 'rescheduled', duplicate: false, previousEffectiveAt: open.termination.effectiveAt };
    } else {
      result = { termination: await this.openTerminations.join(trx, open, t), created: false, outcome: 'joined', duplicate: false };
    }
    await this.recordRequest(trx, t, result, request.bodySha256 ?? null);
    if (result.outcome !== 'joined') await this.ctx.hooks.notifyOthers(trx);
    return result;
  }

  private async create(trx: Tx, t: NewTermination, tasks: NewTask[], options: CreateOptions, supersedes?: string): Promise<Termination> {
    const held = options.brake ? await this.brakeEngaged(trx, options.brake) : false;
    return this.insertTermination(trx, held ? { ...t, state: 'held' } : t, tasks, held ? (options.onHeld ?? []) : [], supersedes);
  }

  /**
   * The earlier request with this source event id: one that joined, brought forward or
   * superseded (recorded in termination_requests, with its body hash where the channel
   * gave one), else one that created a termination (the termination's own event id).
   */
  private async findRequest(
    trx: Tx,
    source: string,
    sourceEventId: string,
  ): Promise<{ terminationId: string; outcome: CreateOutcome; bodySha256: string | null } | null> {
    const recorded = await trx
      .selectFrom('termination_requests')
      .select(['termination_id', 'outcome', 'body_sha256'])
      .where('source', '=', source)
      .where('source_event_id', '=', sourceEventId)
      .executeTakeFirst();
    if (recorded)
      return { terminationId: recorded.termination_id, outcome: recorded.outcome as CreateOutcome, bodySha256: recorded.body_sha256 };
    const created = await trx
      .selectFrom('terminations')
      .select('id')
      .where('source', '=', source)
      .where('source_event_id', '=', sourceEventId)
      .executeTakeFirst();
    return created ? { terminationId: created.id, outcome: 'created', bodySha256: null } : null;
  }

  /**
   * Remembers a request its termination's row does not answer for: one that did not
   * create it, or one whose body must match on a repeat. A plain creation without a body
   * hash (SCIM, webhook: the deliveries table checks webhook bodies) adds no row.
   */
  private async recordRequest(trx: Tx, t: NewTermination, result: CreateTerminationResult, bodySha256: string | null): Promise<void> {
    if (t.sourceEventId === null) return;
    if (result.outcome === 'created' && bodySha256 === null) return;
    await trx
      .insertInto('termination_requests')
      .values({
        source: t.source,
        source_event_id: t.sourceEventId,
        termination_id: result.termination.id,
        outcome: result.outcome,
        body_sha256: bodySha256,
        received_at: this.ctx.clock().getTime(),
      })
      .execute();
  }

  /**
   * Counted inside the creating transaction; on PostgreSQL two racing creations may both pass
   * at the edge. Counts no further than `max`: in the burst the brake is for, counting the
   * whole window made each new termination cost more than the one before.
   */
  private async brakeEngaged(trx: Tx, brake: { max: number; since: Date }): Promise<boolean> {
    const row = await trx
      .selectFrom((eb) =>
        eb.selectFrom('terminations').select('id').where('requested_at', '>=', brake.since.getTime()).limit(brake.max).as('recent'),
      )
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirst();
    return Number(row?.count ?? 0) >= brake.max;
  }

  /** Returns the row as stored (RETURNING), which spares reading it back. */
  private async insertTermination(
    trx: Tx,
    t: NewTermination,
    tasks: NewTask[],
    whileHeld: NewTask[],
    supersedes?: string,
  ): Promise<Termination> {
    const now = this.ctx.clock().getTime();
    const { personal } = this.ctx;
    const keys = await personal.create(trx, [t.id], now);
    const row = await trx
      .insertInto('terminations')
      .values({
        id: t.id,
        source: t.source,
        source_event_id: t.sourceEventId,
        subject_key: personal.index(t.subjectKey),
        subject_keys: JSON.stringify(keysOf(t.subject).map((k) => personal.index(k))),
        subject: keys.sealJson(t.id, SEALED.subject, t.subject),
        reason: t.reason === null ? null : keys.seal(t.id, SEALED.reason, t.reason),
        playbook: t.playbook,
        state: t.state,
        requested_at: t.requestedAt.getTime(),
        effective_at: t.effectiveAt.getTime(),
        revoked_at: null,
        finished_at: null,
        created_by: t.createdBy,
        created_at: now,
        updated_at: now,
        requested_by: t.source,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await insertTasks(trx, t.id, tasks, now);
    await insertTasks(trx, t.id, whileHeld, now, { runsWhileHeld: true });
    const all = [...tasks, ...whileHeld];
    await this.auditLog.append(
      trx,
      {
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
          ...(supersedes ? { supersedes } : {}),
        },
      },
      keys,
    );
    return toTermination(row, keys);
  }

  async cancelTermination(id: string, actor: string, reason: string, authority?: CancelAuthority): Promise<Termination | null> {
    const outcome = await this.ctx.db.transaction().execute(async (trx): Promise<Termination | CancellationRefusedError | null> => {
      // The termination's lock before any row lock: a worker settling one of its tasks
      // (finishAttempt) takes it too, so a cancellation and a settlement never interleave.
      await this.ctx.hooks.lockTermination(trx, id);
      const row = await trx.selectFrom('terminations').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return null;
      if (!UNRESOLVED_TERMINATION_STATES.includes(row.state as TerminationState)) {
        return toTermination(row, await this.ctx.personal.read(trx, [id]));
      }
      if (authority) {
        const refused = await this.refusal(trx, row, actor, reason, authority);
        if (refused) return refused;
      }
      const now = this.ctx.clock().getTime();
      const tasksCancelled = await endCancelled(trx, id, now);
      await this.auditLog.append(trx, {
        actor,
        action: 'termination.cancelled',
        terminationId: id,
        data: { reason, previousState: row.state, tasksCancelled },
      });
      return requireTermination(this.ctx, trx, id);
    });
    // Thrown after the commit: the refusal's audit entry is kept.
    if (outcome instanceof CancellationRefusedError) throw outcome;
    return outcome;
  }

  /** Invariant 11: a channel cancels only what channels it may cancel for asked for. Audits and returns the refusal, or null. */
  private async refusal(
    trx: Tx,
    row: Selectable<TerminationsTable>,
    actor: string,
    reason: string,
    authority: CancelAuthority,
  ): Promise<CancellationRefusedError | null> {
    const requestedBy = requestedByOf(row);
    if (requestedBy.every((channel) => authority.mayCancel.includes(channel))) return null;
    await this.auditLog.append(trx, {
      actor,
      action: 'termination.cancel_refused',
      terminationId: row.id,
      data: { channel: authority.channel, reason, requestedBy: [...requestedBy], mayCancel: [...authority.mayCancel] },
    });
    return new CancellationRefusedError(
      toTermination(row, await this.ctx.personal.read(trx, [row.id])),
      authority.channel,
      requestedBy,
      authority.mayCancel,
    );
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
      return requireTermination(this.ctx, trx, id);
    });
    if (approved) emitWake(this.ctx);
    return approved;
  }

  async findOpenTermination(subjectKey: string): Promise<Termination | null> {
    const row = await this.ctx.db
      .selectFrom('terminations')
      .selectAll()
      .where('subject_key', '=', this.ctx.personal.index(subjectKey))
      .where(UNRESOLVED)
      .executeTakeFirst();
    return row ? toTermination(row, await this.ctx.personal.read(this.ctx.db, [row.id])) : null;
  }
}

export async function requireTermination(ctx: Pick<StoreContext, 'personal'>, trx: Tx, id: string): Promise<Termination> {
  const row = await trx.selectFrom('terminations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  return toTermination(row, await ctx.personal.read(trx, [id]));
}
