/**
 * What a second request does to a subject's open termination, inside the request's
 * transaction (SqlTerminations.createTermination decides which): bring it forward, join
 * it, or let an operator supersede it. Each is audited with the request's actor and
 * channel, and adds the channel to `requested_by`, which decides who may cancel it.
 */
import { sql, type Selectable } from 'kysely';
import type { Termination, TerminationSource } from '../../domain/types.ts';
import { toTermination } from '../rows.ts';
import type { TerminationsTable } from '../schema.ts';
import type { NewTermination } from '../store.ts';
import type { SqlAuditLog } from './audit-log.ts';
import type { StoreContext, Tx } from './context.ts';
import { UNRESOLVED } from './runnable.ts';
import { endCancelled } from './end-cancelled.ts';

/** The open termination and every channel that asked for it. */
export interface OpenTermination {
  termination: Termination;
  requestedBy: TerminationSource[];
}

/** Channels that asked for the termination; a row older than migration 0011 has only its source. */
export function requestedByOf(row: Pick<Selectable<TerminationsTable>, 'requested_by' | 'source'>): TerminationSource[] {
  return (row.requested_by ? row.requested_by.split(',') : [row.source]) as TerminationSource[];
}

function withChannel(channels: readonly TerminationSource[], channel: TerminationSource): string {
  return [...new Set([...channels, channel])].sort().join(',');
}

export class OpenTerminationRule {
  constructor(
    private readonly ctx: StoreContext,
    private readonly auditLog: SqlAuditLog,
  ) {}

  /**
   * The subject's open termination, locked for this transaction on PostgreSQL (two
   * requests for one subject on two replicas must not both move it). The termination's lock
   * comes first, the order finishAttempt and cancelTermination take it in; the other order
   * deadlocks against a worker settling this termination.
   */
  async lockOpen(trx: Tx, subjectKey: string): Promise<OpenTermination | null> {
    const indexed = this.ctx.personal.index(subjectKey);
    const query = () => trx.selectFrom('terminations').selectAll().where('subject_key', '=', indexed).where(UNRESOLVED);
    let row = await query().executeTakeFirst();
    if (row && this.ctx.hooks.dialect === 'postgres') {
      await this.ctx.hooks.lockTermination(trx, row.id);
      row = await query().forUpdate().executeTakeFirst();
    }
    if (!row) return null;
    return { termination: toTermination(row, await this.ctx.personal.read(trx, [row.id])), requestedBy: requestedByOf(row) };
  }

  /**
   * An earlier effective time wins: the termination takes it, and its pending tasks
   * (waiting or retrying, not running) move earlier by the same amount, keeping each
   * step's delay. A task waiting for a retry keeps its retry time (it is already due
   * after the new one), so no time moves later.
   */
  async bringForward(trx: Tx, open: OpenTermination, request: NewTermination): Promise<Termination> {
    const { termination } = open;
    const shift = termination.effectiveAt.getTime() - request.effectiveAt.getTime();
    const now = this.ctx.clock().getTime();
    // Every right-hand side reads the row as it was: `not_before` below is the old one.
    const retryOrShifted = sql<number>`case when next_attempt_at <= not_before then not_before - ${shift} else next_attempt_at end`;
    const moved = await trx
      .updateTable('tasks')
      .set({ not_before: sql<number>`not_before - ${shift}`, next_attempt_at: retryOrShifted, due_at: retryOrShifted, updated_at: now })
      .where('termination_id', '=', termination.id)
      .where('state', '=', 'pending')
      .executeTakeFirst();
    const row = await trx
      .updateTable('terminations')
      .set({ effective_at: request.effectiveAt.getTime(), requested_by: withChannel(open.requestedBy, request.source), updated_at: now })
      .where('id', '=', termination.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await this.auditLog.append(trx, {
      actor: request.createdBy,
      action: 'termination.rescheduled',
      terminationId: termination.id,
      data: {
        channel: request.source,
        sourceEventId: request.sourceEventId,
        reason: request.reason,
        from: termination.effectiveAt.toISOString(),
        to: request.effectiveAt.toISOString(),
        tasksMoved: Number(moved.numUpdatedRows),
      },
    });
    return toTermination(row, await this.ctx.personal.read(trx, [row.id]));
  }

  /** The open termination already covers the request (same playbook, not later): recorded, nothing moves. */
  async join(trx: Tx, open: OpenTermination, request: NewTermination): Promise<Termination> {
    const { termination } = open;
    if (!open.requestedBy.includes(request.source)) {
      await trx
        .updateTable('terminations')
        .set({ requested_by: withChannel(open.requestedBy, request.source) })
        .where('id', '=', termination.id)
        .execute();
    }
    await this.auditLog.append(trx, {
      actor: request.createdBy,
      action: 'termination.joined',
      terminationId: termination.id,
      data: {
        channel: request.source,
        sourceEventId: request.sourceEventId,
        reason: request.reason,
        effectiveAt: request.effectiveAt.toISOString(),
      },
    });
    return termination;
  }

  /** An operator replaces the open termination: its unrun tasks are cancelled and it ends `cancelled`, pointing at its successor. */
  async supersede(trx: Tx, open: OpenTermination, request: NewTermination): Promise<void> {
    const { termination } = open;
    const now = this.ctx.clock().getTime();
    const tasksCancelled = await endCancelled(trx, termination.id, now);
    await this.auditLog.append(trx, {
      actor: request.createdBy,
      action: 'termination.superseded',
      terminationId: termination.id,
      data: {
        by: request.id,
        channel: request.source,
        reason: request.reason,
        playbook: request.playbook,
        previousState: termination.state,
        tasksCancelled,
      },
    });
  }
}
