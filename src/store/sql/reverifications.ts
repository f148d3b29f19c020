/**
 * Re-verifications: scheduled when a termination completes (in that transaction), claimed
 * with a lease like tasks, recorded with an audit entry; drift may put the task back in the
 * queue (remediation) and add notifications. See src/domain/reverify.ts.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Insertable, type Selectable } from 'kysely';
import { newId } from '../../domain/ids.ts';
import {
  DEFAULT_REVERIFY_OFFSETS_MS,
  type DriftSweepRow,
  MAX_REVERIFY_CLAIMS,
  NOT_REVERIFIED,
  type Reverification,
  type ReverifyReason,
} from '../../domain/reverify.ts';
import type { ActionName } from '../../domain/types.ts';
import { openedJson, SEALED, sealedJson, toTask } from '../rows.ts';
import type { ReverificationsTable } from '../schema.ts';
import type { BulkReverifyResult, DueReverification, ReverificationQueue, ReverifyClaimRequest, ReverifyResult } from '../store.ts';
import type { SqlAuditLog } from './audit-log.ts';
import { emitWake, leaseEnd, type StoreContext, type Tx } from './context.ts';
import { driftSweep } from './drift-sweep.ts';
import { insertTasks } from './insert-tasks.ts';
import { isRunnable } from './runnable.ts';
import { NO_KEYS, type RecordKeys } from './personal-data.ts';
import type { SqlSettlement } from './settlement.ts';

/** Terminations whose tasks are read back again: finished with every task settled. */
const FINISHED_STATES = ['completed', 'completed_with_waivers'];

export class SqlReverifications implements ReverificationQueue {
  private offsetsFor: (playbook: string) => readonly number[] = () => DEFAULT_REVERIFY_OFFSETS_MS;

  constructor(
    private readonly ctx: StoreContext,
    private readonly auditLog: SqlAuditLog,
    private readonly settlement: () => SqlSettlement,
  ) {}

  setReverifySchedule(offsetsFor: (playbook: string) => readonly number[]): void {
    this.offsetsFor = offsetsFor;
  }

  /**
   * Called by settlement in the transaction that moves a termination to a finished state:
   * one row per verified task and offset, so the schedule is as durable as the completion.
   */
  async schedule(trx: Tx, terminationId: string, playbook: string, now: number): Promise<void> {
    const offsets = this.offsetsFor(playbook);
    if (offsets.length === 0) return;
    const rows = await verifiedTasks(trx, terminationId);
    const values = rows.flatMap((task) =>
      offsets.map((offset, round) => newRow(terminationId, task, 'scheduled', round, now + offset, now)),
    );
    await insertRows(trx, values);
  }

  async requestReverification(terminationId: string, actor: string): Promise<Reverification[] | null> {
    const created = await this.ctx.db.transaction().execute(async (trx) => {
      const termination = await trx.selectFrom('terminations').select(['state']).where('id', '=', terminationId).executeTakeFirst();
      if (!termination) return null;
      const now = this.ctx.clock().getTime();
      // Only finished terminations: a running one's tasks still verify as part of their own attempts.
      const rows = FINISHED_STATES.includes(termination.state) ? await verifiedTasks(trx, terminationId) : [];
      const values = rows.map((task) => newRow(terminationId, task, 'on_demand', null, now, now));
      await insertRows(trx, values);
      await this.auditLog.append(trx, {
        actor,
        action: 'termination.reverify_requested',
        terminationId,
        data: { tasks: values.length },
      });
      await this.ctx.hooks.notifyOthers(trx);
      return values.map((row) => toReverification(row));
    });
    if (created?.length) emitWake(this.ctx);
    return created;
  }

  async requestReverificationsSince(since: Date, actor: string, max: number): Promise<BulkReverifyResult> {
    const created = await this.ctx.db.transaction().execute(async (trx): Promise<BulkReverifyResult> => {
      const terminations = await trx
        .selectFrom('terminations')
        .select('id')
        .where('state', 'in', FINISHED_STATES)
        .where('finished_at', '>=', since.getTime())
        .orderBy('finished_at')
        // One more than allowed: enough to refuse without counting a whole table.
        .limit(max + 1)
        .execute();
      if (terminations.length > max) return { refused: true, max };
      const now = this.ctx.clock().getTime();
      const queued: Reverification[] = [];
      for (const { id } of terminations) {
        const values = (await verifiedTasks(trx, id)).map((task) => newRow(id, task, 'on_demand', null, now, now));
        await insertRows(trx, values);
        // One entry per termination, as for a single request: each termination's audit trail shows who asked.
        await this.auditLog.append(trx, {
          actor,
          action: 'termination.reverify_requested',
          terminationId: id,
          data: { tasks: values.length, since: since.toISOString() },
        });
        queued.push(...values.map((row) => toReverification(row)));
      }
      await this.ctx.hooks.notifyOthers(trx);
      return { refused: false, terminations: terminations.length, queued };
    });
    if (!created.refused && created.queued.length > 0) emitWake(this.ctx);
    return created;
  }

  async claimDueReverifications(request: ReverifyClaimRequest): Promise<DueReverification[]> {
    if (request.limit <= 0) return [];
    const now = request.now.getTime();
    const token = randomUUID();
    return this.ctx.db.transaction().execute(async (trx) => {
      // Low priority: while a live task of this provider is due and runnable, its turn comes
      // first. Runnable, not just due: a task held back behind a failure or a brake could wait
      // for weeks, and must not stop every re-verification at its provider meanwhile.
      const live = await trx
        .selectFrom('tasks as t')
        .select('t.id')
        .where('t.state', '=', 'pending')
        .where('t.provider', '=', request.provider)
        .where('t.due_at', '<=', now)
        .where(isRunnable)
        .limit(1)
        .executeTakeFirst();
      if (live) return [];
      const leaseNow = this.ctx.leaseClock(now);
      const candidates = (state: 'pending' | 'running', column: 'due_at' | 'lease_expires_at', limit: number) => {
        const query = trx
          .selectFrom('reverifications')
          .select('id')
          .where('provider', '=', request.provider)
          .where('state', '=', state)
          .where(column, '<=', state === 'running' ? leaseNow : now)
          .orderBy(column)
          .limit(limit);
        return (this.ctx.hooks.skipLocked ? query.forUpdate().skipLocked() : query).execute();
      };
      const ids = (await candidates('running', 'lease_expires_at', request.limit)).map((r) => r.id);
      if (ids.length < request.limit) ids.push(...(await candidates('pending', 'due_at', request.limit - ids.length)).map((r) => r.id));
      if (ids.length === 0) return [];
      await trx
        .updateTable('reverifications')
        .set((eb) => ({
          state: 'running',
          lease_owner: request.worker,
          lease_token: token,
          lease_expires_at: leaseEnd(leaseNow, request.leaseMs),
          // Counted when claimed, so a read-back that keeps crashing its worker ends (see giveUp).
          claims: eb('claims', '+', 1),
        }))
        .where('id', 'in', ids)
        .execute();
      const rows = await trx.selectFrom('reverifications').selectAll().where('id', 'in', ids).orderBy('due_at').execute();
      const taskRows = await trx
        .selectFrom('tasks')
        .selectAll()
        .where('id', 'in', [...new Set(rows.map((r) => r.task_id))])
        .execute();
      const taskKeys = await this.ctx.personal.read(
        trx,
        taskRows.map((t) => t.termination_id),
      );
      const tasks = new Map(taskRows.map((t) => [t.id, toTask(t, [], taskKeys)]));
      const proven = new Map(
        (
          await trx
            .selectFrom('task_attempts')
            .select((eb) => ['task_id', eb.fn.max('started_at').as('started_at')])
            .where('task_id', 'in', [...tasks.keys()])
            .where('outcome', '=', 'succeeded')
            .groupBy('task_id')
            .execute()
        ).map((r) => [r.task_id, new Date(Number(r.started_at))]),
      );
      return rows.flatMap((row) => {
        const task = tasks.get(row.task_id);
        return task ? [{ reverification: toReverification(row, taskKeys), task, provenAt: proven.get(task.id) ?? null }] : [];
      });
    });
  }

  async finishReverification(worker: string, claim: Pick<Reverification, 'id' | 'leaseToken'>, result: ReverifyResult): Promise<boolean> {
    const applied = await this.ctx.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('reverifications')
        .selectAll()
        .where('id', '=', claim.id)
        .where('state', '=', 'running')
        .where('lease_owner', '=', worker)
        .where('lease_token', '=', claim.leaseToken)
        .executeTakeFirst();
      if (!row) return false;
      const now = this.ctx.clock().getTime();
      const keys = await this.ctx.personal.read(trx, [row.termination_id]);
      const evidence = sealedJson(keys, row.termination_id, SEALED.reverificationEvidence, result.evidence);
      const retry = result.outcome === 'error' && result.retryAt && row.claims < MAX_REVERIFY_CLAIMS ? result.retryAt : null;
      await trx
        .updateTable('reverifications')
        .set(
          retry
            ? {
                state: 'pending',
                due_at: retry.getTime(),
                lease_owner: null,
                lease_token: null,
                lease_expires_at: null,
                evidence,
              }
            : {
                state: 'done',
                outcome: result.outcome,
                evidence,
                finished_at: now,
                lease_owner: null,
                lease_token: null,
                lease_expires_at: null,
              },
        )
        .where('id', '=', row.id)
        .execute();
      if (retry) return true;
      await this.auditLog.append(trx, {
        actor: 'engine',
        action: result.outcome === 'drift' ? 'task.drift' : 'task.reverified',
        terminationId: row.termination_id,
        taskId: row.task_id,
        data: { provider: row.provider, action: row.action, outcome: result.outcome, reason: row.reason, evidence: result.evidence },
      });
      if (result.outcome === 'drift') await this.onDrift(trx, row, result, now);
      return true;
    });
    if (applied && result.outcome === 'drift') emitWake(this.ctx);
    return applied;
  }

  /** Notifications and, when the playbook says so, the action run again: in the drift's own transaction. */
  private async onDrift(trx: Tx, row: Selectable<ReverificationsTable>, result: ReverifyResult, now: number): Promise<void> {
    await this.ctx.hooks.lockTermination(trx, row.termination_id);
    if (result.followUp?.length) {
      await insertTasks(trx, row.termination_id, await this.settlement().uniqueStepIds(trx, row.termination_id, result.followUp), now);
    }
    if (result.remediate) {
      const updated = await trx
        .updateTable('tasks')
        .set({
          state: 'pending',
          attempts: 0,
          rate_limited_count: 0,
          checkpoint: null,
          next_attempt_at: now,
          due_at: now,
          finished_at: null,
          updated_at: now,
        })
        .where('id', '=', row.task_id)
        .where('state', '=', 'succeeded')
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) > 0) {
        // The remediated step's completion schedules a fresh round; the old round's later checks would repeat it.
        await trx
          .deleteFrom('reverifications')
          .where('task_id', '=', row.task_id)
          .where('state', '=', 'pending')
          .where('reason', '=', 'scheduled')
          .execute();
        await this.auditLog.append(trx, {
          actor: 'engine',
          action: 'task.remediation',
          terminationId: row.termination_id,
          taskId: row.task_id,
          data: { provider: row.provider, action: row.action, reverification: row.id },
        });
      }
    }
    if (result.remediate || result.followUp?.length) {
      // Work is open again: it runs, and its completion schedules a fresh round of re-verifications.
      await trx
        .updateTable('terminations')
        .set({ state: 'running', finished_at: null, updated_at: now })
        .where('id', '=', row.termination_id)
        .where('state', 'in', FINISHED_STATES)
        .execute();
    }
    await this.ctx.hooks.notifyOthers(trx);
  }

  async nextReverificationAt(providers?: string[]): Promise<Date | null> {
    if (providers?.length === 0) return null;
    // Both read the `reverifications_due` index (state, provider, due_at); running rows are
    // few (each worker's gates bound them), so their lease times are read from the rows.
    let pending = this.ctx.db
      .selectFrom('reverifications')
      .select((eb) => eb.fn.min('due_at').as('at'))
      .where('state', '=', 'pending');
    let leases = this.ctx.db
      .selectFrom('reverifications')
      .select((eb) => eb.fn.min('lease_expires_at').as('at'))
      .where('state', '=', 'running');
    if (providers) {
      pending = pending.where('provider', 'in', providers);
      leases = leases.where('provider', 'in', providers);
    }
    // MIN over no rows is NULL, whatever the column's type says.
    const times = [(await pending.executeTakeFirst())?.at, (await leases.executeTakeFirst())?.at]
      .filter((t): t is number => t !== null && t !== undefined)
      .map(Number);
    return times.length > 0 ? new Date(Math.min(...times)) : null;
  }

  driftSweep(since: Date): Promise<DriftSweepRow[]> {
    return driftSweep(this.ctx, since);
  }

  async listReverifications(terminationId: string): Promise<Reverification[]> {
    const rows = await this.ctx.db
      .selectFrom('reverifications')
      .selectAll()
      .where('termination_id', '=', terminationId)
      .orderBy('due_at')
      .orderBy('id')
      .execute();
    const keys = await this.ctx.personal.read(this.ctx.db, [terminationId]);
    return rows.map((row) => toReverification(row, keys));
  }
}

/** Tasks whose success a provider read-back proved, with an account to read back. */
async function verifiedTasks(trx: Tx, terminationId: string) {
  const rows = await trx
    .selectFrom('tasks')
    .select(['id', 'provider', 'action', 'account'])
    .where('termination_id', '=', terminationId)
    // `|| ''` keeps SQLite (no statistics) off the state index: succeeded tasks of every
    // termination ever are most of the table, and each completion walked them all.
    .where(sql<string>`${sql.ref('state')} || ''`, '=', 'succeeded')
    .where('account', 'is not', null)
    .execute();
  return rows.filter((r) => !NOT_REVERIFIED.has(r.action as ActionName) && r.provider !== 'manual');
}

function newRow(
  terminationId: string,
  task: { id: string; provider: string; action: string },
  reason: ReverifyReason,
  round: number | null,
  dueAt: number,
  now: number,
): Selectable<ReverificationsTable> {
  return {
    id: newId(),
    termination_id: terminationId,
    task_id: task.id,
    provider: task.provider,
    action: task.action,
    reason,
    round,
    due_at: dueAt,
    state: 'pending',
    claims: 0,
    lease_owner: null,
    lease_token: null,
    lease_expires_at: null,
    outcome: null,
    evidence: null,
    finished_at: null,
    created_at: now,
  };
}

/** `keys` opens the evidence; a row without evidence (a new one) needs none. */
function toReverification(row: Selectable<ReverificationsTable>, keys: RecordKeys = NO_KEYS): Reverification {
  return {
    id: row.id,
    terminationId: row.termination_id,
    taskId: row.task_id,
    provider: row.provider,
    action: row.action as ActionName,
    reason: row.reason as ReverifyReason,
    round: row.round,
    dueAt: new Date(Number(row.due_at)),
    state: row.state as Reverification['state'],
    claims: row.claims,
    leaseToken: row.lease_token,
    outcome: row.outcome as Reverification['outcome'],
    evidence: openedJson(keys, row.termination_id, SEALED.reverificationEvidence, row.evidence),
    finishedAt: row.finished_at === null ? null : new Date(Number(row.finished_at)),
  };
}

/**
 * Rows per INSERT: a client organization's termination has a task per member and action, and
 * every verified one gets a row per offset, so one multi-row INSERT of them all passed SQLite's
 * limit of 32,766 bound values (17 a row) at about 500 members. 500 rows stay far below it.
 */
const ROWS_PER_INSERT = 500;

async function insertRows(trx: Tx, values: Array<Insertable<ReverificationsTable>>): Promise<void> {
  for (let i = 0; i < values.length; i += ROWS_PER_INSERT) {
    await trx
      .insertInto('reverifications')
      .values(values.slice(i, i + ROWS_PER_INSERT))
      .execute();
  }
}
