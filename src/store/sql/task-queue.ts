/**
 * The task queue: what workers do. Claims with leases (skipping rows other replicas hold),
 * lease renewal, the record of each attempt with the task's next state, release on shutdown.
 * The engine depends on this concern only.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { JsonObject, TaskAttempt, Task, Termination } from '../../domain/types.ts';
import type { AttemptOutcome, ClaimRequest, LeaseRef, LeaseRenewal, TaskQueue } from '../store.ts';
import type { SqlAuditLog } from './audit-log.ts';
import { emitRevoked, emitWake, leaseEnd, type LeaseTime, type RevokedEvent, type StoreContext, type Tx } from './context.ts';
import { insertTasks } from './insert-tasks.ts';
import { BRAKE_MEMBERS_STEP, insertMemberTasks } from './member-tasks.ts';
import { newId } from '../../domain/ids.ts';
import { renewLeases } from './lease-renewal.ts';
import { discardedSuccess, doneThenConfirmed, upgradeSkippedByLateSuccess } from './late-results.ts';
import { SqlReadModel, withDependencies } from './read-model.ts';
import { isRunnable } from './runnable.ts';
import { SEALED, sealedJson, sealedText } from '../rows.ts';
import type { SqlSettlement } from './settlement.ts';

export class SqlTaskQueue implements TaskQueue {
  constructor(
    private readonly ctx: StoreContext,
    private readonly auditLog: SqlAuditLog,
    private readonly settlement: SqlSettlement,
    private readonly reads: SqlReadModel,
  ) {}

  onWake(listener: () => void): () => void {
    this.ctx.events.on('wake', listener);
    return () => this.ctx.events.off('wake', listener);
  }

  getTerminations(ids: readonly string[]): Promise<Map<string, Termination>> {
    return this.reads.getTerminations(ids);
  }

  async claimDueTasks(request: ClaimRequest): Promise<Task[]> {
    if (request.limit <= 0) return [];
    const now = request.now.getTime();
    const token = randomUUID();
    return this.ctx.db.transaction().execute(async (trx) => {
      // Leases are timed from the moment of the claim (on PostgreSQL by the database's clock),
      // not from when the worker asked: time spent waiting for a pooled connection is not
      // taken out of the lease, and every replica judges expiry by the same clock.
      const leaseNow = this.ctx.leaseClock(now);
      // Expired leases (a worker died) are rare: one probe decides whether to look at them at all.
      const expired = await trx
        .selectFrom('tasks')
        .select('id')
        .where('provider', '=', request.provider)
        .where('state', '=', 'running')
        .where('lease_expires_at', '<=', leaseNow)
        .limit(1)
        .executeTakeFirst();
      if (expired) await this.cancelOrphans(trx, request.provider, leaseNow);
      // Two index walks rather than one OR: `state = pending AND due_at <= now` ordered by
      // due_at walks tasks_due and stops at `limit`; the OR made SQLite collect and sort every
      // due task on each claim (45 % of all SQL time in a 1,500-termination bench run).
      // Expired leases go first: they have waited longest.
      const candidates = (state: 'pending' | 'running', column: 't.due_at' | 't.lease_expires_at', limit: number) => {
        const query = trx
          .selectFrom('tasks as t')
          .select('t.id')
          .where('t.provider', '=', request.provider)
          .where('t.state', '=', state)
          .where(column, '<=', state === 'running' ? leaseNow : now)
          .where(isRunnable)
          .orderBy(column)
          .limit(limit);
        return (this.ctx.hooks.skipLocked ? query.forUpdate().skipLocked() : query).execute();
      };
      const ids = expired ? (await candidates('running', 't.lease_expires_at', request.limit)).map((r) => r.id) : [];
      if (ids.length < request.limit) ids.push(...(await candidates('pending', 't.due_at', request.limit - ids.length)).map((r) => r.id));
      if (ids.length === 0) return [];
      await trx
        .updateTable('tasks')
        .set((eb) => ({
          state: 'running',
          lease_owner: request.worker,
          lease_token: token,
          lease_expires_at: leaseEnd(leaseNow, request.leaseMs),
          // Counted when claimed: an attempt that crashes its worker, or outlives its lease,
          // uses up the budget like any other failure. Waits that do not count give it back.
          attempts: eb('attempts', '+', 1),
          updated_at: now,
          started_at: sql`coalesce(started_at, ${now})`,
        }))
        .where('id', 'in', ids)
        .execute();
      const rows = await trx.selectFrom('tasks').selectAll().where('id', 'in', ids).orderBy('due_at').execute();
      // The state test is an expression so that no index serves it: given `state = ?` beside
      // the ids, SQLite (without statistics) walked the state index through every scheduled
      // termination on each claim, 0.3 to 0.5 ms with a few thousand waiting; by primary key
      // it reads only the claimed tasks' terminations.
      await trx
        .updateTable('terminations')
        .set({ state: 'running', updated_at: now })
        .where('id', 'in', [...new Set(rows.map((row) => row.termination_id))])
        .where(sql<string>`${sql.ref('state')} || ''`, '=', 'scheduled')
        .execute();
      return withDependencies(this.ctx, trx, rows);
    });
  }

  async recordAccount(lease: LeaseRef, account: JsonObject): Promise<boolean> {
    const task = await this.ctx.db.selectFrom('tasks').select('termination_id').where('id', '=', lease.id).executeTakeFirst();
    if (!task) return false;
    const keys = await this.ctx.personal.read(this.ctx.db, [task.termination_id]);
    const updated = await this.ctx.db
      .updateTable('tasks')
      .set({ account: sealedJson(keys, task.termination_id, SEALED.account, account) })
      .where('id', '=', lease.id)
      .where('state', '=', 'running')
      .where('lease_token', '=', lease.leaseToken)
      .executeTakeFirst();
    return Number(updated.numUpdatedRows) > 0;
  }

  /** A success whose lease had passed on: it changes the record only where it corrects a "no account" skip. */
  private async recordLateSuccess(
    trx: Tx,
    worker: string,
    terminationId: string,
    taskId: string,
    outcome: { evidence: JsonObject; account: JsonObject | null },
    attempt: number,
    now: number,
  ): Promise<void> {
    const keys = await this.ctx.personal.read(trx, [terminationId]);
    const evidence = await upgradeSkippedByLateSuccess(
      trx,
      taskId,
      { attempt, evidence: outcome.evidence, account: outcome.account },
      now,
      { terminationId, keys },
    );
    if (!evidence) return;
    await this.auditLog.append(trx, {
      actor: `worker:${worker}`,
      action: 'task.succeeded',
      terminationId,
      taskId,
      data: { evidence, lateResult: true },
    });
  }

  /**
   * A worker that died holding a task of a termination cancelled since then leaves the task
   * `running` with an expired lease; nobody may run it, so it ends cancelled here.
   */
  private async cancelOrphans(trx: Tx, provider: string, leaseNow: LeaseTime): Promise<void> {
    const now = this.ctx.clock().getTime();
    // Read first: almost every claim finds none, and a claim that writes nothing stays a cheap read.
    const any = await trx
      .selectFrom('tasks')
      .select('id')
      .where('provider', '=', provider)
      .where('state', '=', 'running')
      .where('lease_expires_at', '<=', leaseNow)
      .where('termination_id', 'in', (eb) => eb.selectFrom('terminations').select('id').where('state', '=', 'cancelled'))
      .limit(1)
      .executeTakeFirst();
    if (!any) return;
    const orphans = await trx
      .updateTable('tasks')
      .set({ state: 'cancelled', lease_owner: null, lease_expires_at: null, finished_at: now, updated_at: now })
      .where('provider', '=', provider)
      .where('state', '=', 'running')
      .where('lease_expires_at', '<=', leaseNow)
      .where('termination_id', 'in', (eb) => eb.selectFrom('terminations').select('id').where('state', '=', 'cancelled'))
      .returning(['id', 'termination_id'])
      .execute();
    for (const orphan of orphans) {
      await this.auditLog.append(trx, {
        actor: 'engine',
        action: 'task.cancelled',
        terminationId: orphan.termination_id,
        taskId: orphan.id,
        data: { reason: 'lease expired after the termination was cancelled' },
      });
    }
  }

  async nextWakeAt(providers?: string[]): Promise<Date | null> {
    if (providers?.length === 0) return null;
    let pending = this.ctx.db
      .selectFrom('tasks as t')
      .select((eb) => eb.fn.min('t.due_at').as('at'))
      .where('t.state', '=', 'pending')
      .where(isRunnable);
    let leases = this.ctx.db
      .selectFrom('tasks')
      .select((eb) => eb.fn.min('lease_expires_at').as('at'))
      .where('state', '=', 'running');
    if (providers) {
      pending = pending.where('t.provider', 'in', providers);
      leases = leases.where('provider', 'in', providers);
    }
    const times = [(await pending.executeTakeFirst())?.at, (await leases.executeTakeFirst())?.at]
      .filter((t): t is number => t !== null && t !== undefined)
      .map(Number);
    return times.length > 0 ? new Date(Math.min(...times)) : null;
  }

  renewLeases(worker: string, leases: LeaseRef[], leaseMs: number): Promise<LeaseRenewal> {
    return renewLeases(this.ctx, worker, leases, leaseMs);
  }

  async finishAttempt(worker: string, lease: LeaseRef, outcome: AttemptOutcome, attempt: TaskAttempt): Promise<boolean> {
    const taskId = lease.id;
    let revoked: RevokedEvent | null = null;
    const held = await this.ctx.db.transaction().execute(async (trx) => {
      revoked = null;
      const now = this.ctx.clock().getTime();
      // The lease is the right to decide the task's fate: a worker that lost it only leaves its attempt on record.
      // Checked, row-locked and read in one statement, so a replica that reclaimed the task meanwhile is not
      // overwritten. The claim's token, not the worker's name, is the proof: a worker that reclaimed its own
      // task after losing the lease holds a new token, and the old attempt's late result is refused too.
      const row = await trx
        .updateTable('tasks')
        .set({ updated_at: now })
        .where('id', '=', taskId)
        .where('state', '=', 'running')
        .where('lease_token', '=', lease.leaseToken)
        .returningAll()
        .executeTakeFirst();
      const terminationId =
        row?.termination_id ??
        (await trx.selectFrom('tasks').select('termination_id').where('id', '=', taskId).executeTakeFirst())?.termination_id;
      if (terminationId === undefined) return false;
      const keys = await this.ctx.personal.read(trx, [terminationId]);
      const sealed = (field: string, value: unknown) => sealedJson(keys, terminationId, field, value);
      await trx
        .insertInto('task_attempts')
        .values({
          task_id: taskId,
          termination_id: terminationId,
          attempt: attempt.attempt,
          worker: attempt.worker,
          started_at: attempt.startedAt.getTime(),
          finished_at: attempt.finishedAt.getTime(),
          outcome: attempt.outcome,
          error_kind: attempt.errorKind,
          error_message: sealedText(keys, terminationId, SEALED.attemptError, attempt.errorMessage),
          evidence: sealed(SEALED.attemptEvidence, attempt.evidence),
        })
        .execute();
      if (!row) {
        if (outcome.state === 'succeeded') await this.recordLateSuccess(trx, worker, terminationId, taskId, outcome, attempt.attempt, now);
        return false;
      }
      // Serialises with cancelTermination, so a cancellation committed meanwhile is seen below.
      // After this task's row: no path that holds the termination's lock waits for a running task.
      await this.ctx.hooks.lockTermination(trx, row.termination_id);
      const common = { lease_owner: null, lease_token: null, lease_expires_at: null, updated_at: now };
      const termination = await trx.selectFrom('terminations').selectAll().where('id', '=', row.termination_id).executeTakeFirstOrThrow();
      if (outcome.state === 'pending' && termination.state === 'cancelled') {
        // Cancelled while this attempt ran: nothing claims a cancelled termination's task, so it must not wait as pending.
        await trx
          .updateTable('tasks')
          .set({
            ...common,
            state: 'cancelled',
            finished_at: now,
            account: outcome.account ? sealed(SEALED.account, outcome.account) : row.account,
          })
          .where('id', '=', taskId)
          .execute();
        await this.auditLog.append(trx, {
          actor: `worker:${worker}`,
          action: 'task.cancelled',
          terminationId: row.termination_id,
          taskId,
          data: { provider: row.provider, action: row.action, error: outcome.error },
        });
        return true;
      }
      if (outcome.state === 'pending') {
        const next = outcome.nextAttemptAt.getTime();
        await trx
          .updateTable('tasks')
          .set({
            ...common,
            state: 'pending',
            next_attempt_at: next,
            due_at: Math.max(next, Number(row.not_before)),
            // The claim counted this attempt; a wait that does not count gives it back.
            attempts: row.attempts - (outcome.countsAsAttempt ? 0 : 1),
            rate_limited_count: row.rate_limited_count + (outcome.rateLimited ? 1 : 0),
            last_error: outcome.error ? sealed(SEALED.lastError, outcome.error) : row.last_error,
            checkpoint: outcome.checkpoint ? JSON.stringify(outcome.checkpoint) : row.checkpoint,
            account: outcome.account ? sealed(SEALED.account, outcome.account) : row.account,
          })
          .where('id', '=', taskId)
          .execute();
        if (outcome.error) {
          await this.auditLog.append(trx, {
            actor: `worker:${worker}`,
            action: 'task.retry_scheduled',
            terminationId: row.termination_id,
            taskId,
            data: { error: outcome.error, nextAttemptAt: new Date(next).toISOString() },
          });
        }
        if (outcome.becameOverdue) {
          await this.auditLog.append(trx, {
            actor: `worker:${worker}`,
            action: 'task.overdue',
            terminationId: row.termination_id,
            taskId,
            data: { provider: row.provider, action: row.action, waitingFor: outcome.becameOverdue.waitingFor },
          });
          if (outcome.followUp?.length) {
            await insertTasks(trx, row.termination_id, await this.settlement.uniqueStepIds(trx, row.termination_id, outcome.followUp), now);
          }
        }
        await this.ctx.hooks.notifyOthers(trx);
        return true;
      }
      // "No account here" after an earlier attempt of this task did the work but lost its lease: say both.
      const earlier =
        outcome.state === 'skipped' && outcome.account === null ? await discardedSuccess(trx, taskId, { terminationId, keys }) : null;
      if (earlier)
        outcome = {
          state: 'succeeded',
          account: (earlier.evidence.account as JsonObject | undefined) ?? null,
          evidence: doneThenConfirmed(earlier, { attempt: attempt.attempt, evidence: outcome.evidence ?? null }),
        };
      await trx
        .updateTable('tasks')
        .set({
          ...common,
          state: outcome.state,
          finished_at: now,
          evidence: sealed(SEALED.evidence, outcome.evidence ?? null),
          account: 'account' in outcome && outcome.account ? sealed(SEALED.account, outcome.account) : row.account,
          last_error: outcome.state === 'failed' ? sealed(SEALED.lastError, outcome.error) : null,
        })
        .where('id', '=', taskId)
        .execute();
      await this.auditLog.append(trx, {
        actor: `worker:${worker}`,
        action: `task.${outcome.state}`,
        terminationId: row.termination_id,
        taskId,
        data: {
          provider: row.provider,
          action: row.action,
          ...(outcome.state === 'failed' ? { error: outcome.error } : { evidence: outcome.evidence }),
        },
      });
      if (outcome.state === 'failed' && outcome.followUp?.length) {
        await insertTasks(trx, row.termination_id, await this.settlement.uniqueStepIds(trx, row.termination_id, outcome.followUp), now);
      }
      if (outcome.state === 'succeeded' && outcome.expansion) {
        // Before the termination's state is derived: its members' tasks keep it running.
        const written = await insertMemberTasks(trx, row, outcome.expansion, now, this.ctx.personal);
        await this.auditLog.append(trx, {
          actor: `worker:${worker}`,
          action: 'task.expanded',
          terminationId: row.termination_id,
          taskId,
          data: {
            provider: row.provider,
            members: outcome.expansion.members.length,
            memberIds: outcome.expansion.members.map((m) => m.id),
            actions: outcome.expansion.actions,
            tasksCreated: written.created,
            tasksAlreadyThere: written.existing,
          },
        });
        const hold = outcome.expansion.holdForApproval;
        if (hold && (termination.state === 'running' || termination.state === 'scheduled')) {
          // The organization's size brake: its members' tasks wait, with the count, for an operator's approval.
          await trx.updateTable('terminations').set({ state: 'held', updated_at: now }).where('id', '=', row.termination_id).execute();
          await this.auditLog.append(trx, {
            actor: 'engine',
            action: 'termination.held',
            terminationId: row.termination_id,
            data: {
              reason: `organization members above the brake (${hold.threshold})`,
              provider: row.provider,
              members: outcome.expansion.members.length,
              threshold: hold.threshold,
            },
          });
          if (hold.notifyProvider) {
            // Told like the brake's hold at intake: the only task that runs while the termination is held.
            const notify = {
              id: newId(),
              stepId: `${BRAKE_MEMBERS_STEP}-${row.step_id}`,
              provider: hold.notifyProvider,
              action: 'notify' as const,
              params: {
                event: 'held',
                text: `Offboarding of ${termination.subject_key} is held: ${outcome.expansion.members.length} members found at ${row.provider}, above the brake's ${hold.threshold}. An operator must approve it.`,
                members: outcome.expansion.members.length,
                threshold: hold.threshold,
              },
              critical: false,
              dependsOn: [],
              notBefore: new Date(now),
            };
            await insertTasks(trx, row.termination_id, await this.settlement.uniqueStepIds(trx, row.termination_id, [notify]), now, {
              runsWhileHeld: true,
            });
          }
          await this.ctx.hooks.notifyOthers(trx);
          return true;
        }
      }
      revoked = await this.settlement.settle(trx, termination, now);
      await this.ctx.hooks.notifyOthers(trx);
      return true;
    });
    if (held) emitWake(this.ctx);
    emitRevoked(this.ctx, revoked);
    return held;
  }

  /** A step that fails again after a replay gets a second follow-up: `step#2`, `step#3`... */

  async releaseTasks(worker: string, leases: LeaseRef[]): Promise<void> {
    if (leases.length === 0) return;
    const now = this.ctx.clock().getTime();
    await this.ctx.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('tasks')
        .set((eb) => ({
          state: 'pending',
          lease_owner: null,
          lease_token: null,
          lease_expires_at: null,
          // Released unrun: the attempt the claim counted is given back.
          attempts: eb('attempts', '-', 1),
          next_attempt_at: now,
          // due_at never moves before not_before.
          due_at: eb.case().when('not_before', '>', now).then(eb.ref('not_before')).else(now).end(),
          updated_at: now,
        }))
        .where((eb) =>
          eb(
            eb.refTuple('id', 'lease_token'),
            'in',
            leases.map((lease) => eb.tuple(lease.id, lease.leaseToken)),
          ),
        )
        .where('lease_owner', '=', worker)
        .where('state', '=', 'running')
        .execute();
      // A draining replica releases so that the others take over now, not after the lease.
      await this.ctx.hooks.notifyOthers(trx);
    });
    emitWake(this.ctx);
  }
}
