/**
 * One Store implementation over Kysely, shared by SQLite and PostgreSQL. What differs
 * between the two (row locks, wake-ups, the audit-chain lock, error codes) comes in
 * through `DialectHooks`.
 */
import { EventEmitter } from 'node:events';
import { Migrator, sql, type ExpressionBuilder, type Kysely, type Selectable, type Transaction } from 'kysely';
import { UNRESOLVED_TERMINATION_STATES, type JsonObject, type Task, type TaskAttempt, type Termination, type TerminationState } from '../domain/types.ts';
import { GENESIS_HASH, chainHash } from '../audit/chain.ts';
import { parseDuration } from '../config/duration.ts';
import { probeCommit } from './commit-probe.ts';
import { migrationProvider } from './migrations/index.ts';
import { toAttempt, toAuditEntry, toTask, toTermination } from './rows.ts';
import { SqlSubjectDirectory, type SubjectDirectory } from './directory.ts';
import type { Database } from './schema.ts';
import { SqlWebhookDeliveryStore, type WebhookDeliveryStore } from './webhook-deliveries.ts';
import { BRAKE_NOTIFY_STEP } from './store.ts';
import type {
  AttemptOutcome,
  CreateOptions,
  AuditEntry,
  ClaimRequest,
  CreateTerminationResult,
  NewTask,
  NewTermination,
  Store,
  StoreStats,
  TerminationFilter,
} from './store.ts';

export interface DialectHooks {
  readonly dialect: 'sqlite' | 'postgres';
  /** Serialises appends to the audit chain inside a transaction. */
  lockAuditChain(trx: Transaction<Database>): Promise<void>;
  /** Locks claimed candidate rows so other replicas skip them (PostgreSQL), or nothing (SQLite). */
  readonly skipLocked: boolean;
  /** Tells other replicas that work may be due (PostgreSQL NOTIFY), inside the transaction. */
  notifyOthers(trx: Transaction<Database>): Promise<void>;
  isUniqueViolation(error: unknown): boolean;
}

type Tx = Transaction<Database>;
type AliasedTasks = Database & { t: Database['tasks'] };

/**
 * A pending task may run once every task it depends on succeeded (or was skipped) and
 * its termination is neither held nor finished.
 */
function isRunnable(eb: ExpressionBuilder<AliasedTasks, 't'>) {
  return eb.and([
    eb.not(
      eb.exists(
        eb
          .selectFrom('task_dependencies as d')
          .innerJoin('tasks as dt', 'dt.id', 'd.depends_on_task_id')
          .select(sql.lit(1).as('one'))
          .whereRef('d.task_id', '=', 't.id')
          .where('dt.state', 'not in', ['succeeded', 'skipped']),
      ),
    ),
    eb.exists(
      eb
        .selectFrom('terminations as r')
        .select(sql.lit(1).as('one'))
        .whereRef('r.id', '=', 't.termination_id')
        .where((w) =>
          w.or([
            w('r.state', 'in', RUNNABLE_TERMINATION_STATES),
            // The brake's message to the security team is the one task a held termination runs.
            w.and([w('r.state', '=', 'held'), w('t.step_id', '=', BRAKE_NOTIFY_STEP)]),
          ]),
        ),
    ),
  ]);
}
/** Termination states whose tasks may run. `failed` keeps running its other tasks. */
const RUNNABLE_TERMINATION_STATES = ['scheduled', 'running', 'failed'];

/**
 * `state IN (…)` over the unresolved states written as literals, not bound parameters:
 * SQLite uses the partial index `terminations_open_subject` (one unresolved termination
 * per subject) only when the query repeats the index's own condition. With parameters it
 * walked the state index over every unresolved termination instead, so each SCIM request
 * of a burst cost more than the one before.
 */
const UNRESOLVED = sql<boolean>`state in (${sql.raw(UNRESOLVED_TERMINATION_STATES.map((state) => `'${state}'`).join(', '))})`;

export class SqlStore implements Store {
  readonly dialect: 'sqlite' | 'postgres';
  protected readonly wake = new EventEmitter();
  readonly webhookDeliveries: WebhookDeliveryStore;
  readonly directory: SubjectDirectory;

  constructor(
    protected readonly db: Kysely<Database>,
    private readonly hooks: DialectHooks,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.dialect = hooks.dialect;
    this.webhookDeliveries = new SqlWebhookDeliveryStore(db);
    this.directory = new SqlSubjectDirectory(db, clock);
    this.wake.setMaxListeners(100);
  }

  async migrate(): Promise<void> {
    const { error, results } = await new Migrator({ db: this.db, provider: migrationProvider }).migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (error || failed) {
      throw new Error(`store migration ${failed?.migrationName ?? ''} failed`, { cause: error });
    }
  }

  probeCommit(): Promise<void> {
    return probeCommit(this.db, this.clock());
  }

  async close(): Promise<void> {
    this.wake.removeAllListeners();
    await this.db.destroy();
  }

  onWake(listener: () => void): () => void {
    this.wake.on('wake', listener);
    return () => this.wake.off('wake', listener);
  }

  onTerminationRevoked(listener: (event: { terminationId: string; timeToRevokeMs: number }) => void): () => void {
    this.wake.on('revoked', listener);
    return () => this.wake.off('revoked', listener);
  }

  /** Wakes local schedulers after a commit. */
  protected emitWake(): void {
    this.wake.emit('wake');
  }

  async createTermination(termination: NewTermination, tasks: NewTask[], options: CreateOptions = {}): Promise<CreateTerminationResult> {
    try {
      const result = await this.db.transaction().execute(async (trx) => {
        const existing = await this.findDuplicate(trx, termination);
        if (existing) return { termination: existing, created: false };
        const held = options.brake ? await this.brakeEngaged(trx, options.brake) : false;
        const created = await this.insertTermination(trx, held ? { ...termination, state: 'held' } : termination, held ? [...tasks, ...(options.onHeld ?? [])] : tasks);
        await this.hooks.notifyOthers(trx);
        return { termination: created, created: true };
      });
      if (result.created) this.emitWake();
      return result;
    } catch (error) {
      // Two deliveries raced past the duplicate check; the unique index let one win.
      if (!this.hooks.isUniqueViolation(error)) throw error;
      const existing = await this.db.transaction().execute((trx) => this.findDuplicate(trx, termination));
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
  private async insertTermination(trx: Tx, t: NewTermination, tasks: NewTask[]): Promise<Termination> {
    const now = this.clock().getTime();
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
    await this.insertTasks(trx, t.id, tasks, now);
    await this.audit(trx, {
      actor: t.createdBy,
      action: 'termination.created',
      terminationId: t.id,
      data: {
        source: t.source,
        sourceEventId: t.sourceEventId,
        state: t.state,
        playbook: t.playbook,
        effectiveAt: t.effectiveAt.toISOString(),
        tasks: tasks.map((task) => `${task.stepId}:${task.provider}.${task.action}`),
      },
    });
    return toTermination(row);
  }

  /** Inserts tasks of one termination and their dependency edges (by step id, within `tasks`). */
  private async insertTasks(trx: Tx, terminationId: string, tasks: NewTask[], now: number): Promise<void> {
    if (tasks.length === 0) return;
    await trx
      .insertInto('tasks')
      .values(
        tasks.map((task) => ({
          id: task.id,
          termination_id: terminationId,
          step_id: task.stepId,
          provider: task.provider,
          action: task.action,
          params: JSON.stringify(task.params),
          critical: task.critical ? 1 : 0,
          not_before: task.notBefore.getTime(),
          state: 'pending',
          attempts: 0,
          rate_limited_count: 0,
          next_attempt_at: task.notBefore.getTime(),
          due_at: task.notBefore.getTime(),
          // The columns a new task leaves NULL (lease, account, checkpoint, error, evidence,
          // times) are left out: a termination's tasks go in as one multi-row INSERT, and
          // each value costs the query builder and the bind on every row.
          updated_at: now,
        })),
      )
      .execute();
    const idByStep = new Map(tasks.map((task) => [task.stepId, task.id]));
    const edges = tasks.flatMap((task) =>
      task.dependsOn.map((step) => {
        const dependsOnId = idByStep.get(step);
        if (!dependsOnId) throw new Error(`task ${task.stepId} depends on unknown step ${step}`);
        return { task_id: task.id, depends_on_task_id: dependsOnId };
      }),
    );
    if (edges.length > 0) await trx.insertInto('task_dependencies').values(edges).execute();
  }

  async cancelTermination(id: string, actor: string, reason: string): Promise<Termination | null> {
    const result = await this.db.transaction().execute(async (trx) => {
      // Chain lock before any row lock, the order finishAttempt takes them in: the other
      // order deadlocks against a worker settling this termination (PostgreSQL).
      await this.hooks.lockAuditChain(trx);
      const row = await trx.selectFrom('terminations').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return null;
      if (!UNRESOLVED_TERMINATION_STATES.includes(row.state as TerminationState)) return toTermination(row);
      const now = this.clock().getTime();
      const cancelled = await trx
        .updateTable('tasks')
        .set({ state: 'cancelled', finished_at: now, updated_at: now, lease_owner: null, lease_expires_at: null })
        .where('termination_id', '=', id)
        .where('state', 'in', ['pending', 'failed'])
        .executeTakeFirst();
      await trx
        .updateTable('terminations')
        .set({ state: 'cancelled', finished_at: now, updated_at: now })
        .where('id', '=', id)
        .execute();
      await this.audit(trx, {
        actor,
        action: 'termination.cancelled',
        terminationId: id,
        data: { reason, previousState: row.state, tasksCancelled: Number(cancelled.numUpdatedRows) },
      });
      return this.requireTermination(trx, id);
    });
    return result;
  }

  async approveTermination(id: string, actor: string): Promise<Termination | null> {
    const approved = await this.db.transaction().execute(async (trx) => {
      const now = this.clock().getTime();
      const updated = await trx
        .updateTable('terminations')
        .set({ state: 'scheduled', updated_at: now })
        .where('id', '=', id)
        .where('state', '=', 'held')
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) return null;
      await this.audit(trx, { actor, action: 'termination.approved', terminationId: id, data: {} });
      await this.hooks.notifyOthers(trx);
      return this.requireTermination(trx, id);
    });
    if (approved) this.emitWake();
    return approved;
  }

  async findOpenTermination(subjectKey: string): Promise<Termination | null> {
    const row = await this.db
      .selectFrom('terminations')
      .selectAll()
      .where('subject_key', '=', subjectKey)
      .where(UNRESOLVED)
      .executeTakeFirst();
    return row ? toTermination(row) : null;
  }

  async getTermination(id: string): Promise<Termination | null> {
    const row = await this.db.selectFrom('terminations').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toTermination(row) : null;
  }

  async getTerminations(ids: readonly string[]): Promise<Map<string, Termination>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db.selectFrom('terminations').selectAll().where('id', 'in', [...ids]).execute();
    return new Map(rows.map((row) => [row.id, toTermination(row)]));
  }

  async listTerminations(filter: TerminationFilter): Promise<{ items: Termination[]; nextCursor: string | null }> {
    let query = this.db.selectFrom('terminations').selectAll();
    if (filter.state) query = query.where('state', '=', filter.state);
    if (filter.subjectKey) query = query.where('subject_key', '=', filter.subjectKey);
    // SQL has no empty IN (): an empty list matches nothing, and no subject key is ''.
    if (filter.subjectKeys) query = query.where('subject_key', 'in', filter.subjectKeys.length > 0 ? filter.subjectKeys : ['']);
    if (filter.since) query = query.where('requested_at', '>=', filter.since.getTime());
    if (filter.until) query = query.where('requested_at', '<', filter.until.getTime());
    const cursor = decodeCursor(filter.cursor);
    if (cursor) {
      // Newest first; the cursor is the (requested_at, id) of the last item of the previous page.
      query = query.where((eb) =>
        eb.or([
          eb('requested_at', '<', cursor.at),
          eb.and([eb('requested_at', '=', cursor.at), eb('id', '<', cursor.id)]),
        ]),
      );
    }
    const rows = await query
      .orderBy('requested_at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit + 1)
      .execute();
    const items = rows.slice(0, filter.limit).map(toTermination);
    const last = items.at(-1);
    const nextCursor = rows.length > filter.limit && last ? encodeCursor(last.requestedAt.getTime(), last.id) : null;
    return { items, nextCursor };
  }

  async listTasks(terminationId: string): Promise<Task[]> {
    const rows = await this.db
      .selectFrom('tasks')
      .selectAll()
      .where('termination_id', '=', terminationId)
      .orderBy('not_before')
      .orderBy('step_id')
      .execute();
    return this.withDependencies(this.db, rows);
  }

  async getTask(id: string): Promise<Task | null> {
    const row = await this.db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return null;
    const [task] = await this.withDependencies(this.db, [row]);
    return task ?? null;
  }

  async listAttempts(terminationId: string): Promise<TaskAttempt[]> {
    const rows = await this.db
      .selectFrom('task_attempts')
      .selectAll()
      .where('termination_id', '=', terminationId)
      .orderBy('id')
      .execute();
    return rows.map(toAttempt);
  }

  private async withDependencies(
    db: Kysely<Database> | Tx,
    rows: Array<Selectable<Database['tasks']>>,
  ): Promise<Task[]> {
    if (rows.length === 0) return [];
    const edges = await db
      .selectFrom('task_dependencies as d')
      .innerJoin('tasks as t', 't.id', 'd.depends_on_task_id')
      .select(['d.task_id', 't.step_id'])
      .where(
        'd.task_id',
        'in',
        rows.map((r) => r.id),
      )
      .execute();
    const byTask = new Map<string, string[]>();
    for (const edge of edges) byTask.set(edge.task_id, [...(byTask.get(edge.task_id) ?? []), edge.step_id]);
    return rows.map((row) => toTask(row, byTask.get(row.id) ?? []));
  }

  async claimDueTasks(request: ClaimRequest): Promise<Task[]> {
    if (request.limit <= 0) return [];
    const now = request.now.getTime();
    return this.db.transaction().execute(async (trx) => {
      // Expired leases (a worker died) are rare: one probe decides whether to look at them at all.
      const expired = await trx
        .selectFrom('tasks')
        .select('id')
        .where('provider', '=', request.provider)
        .where('state', '=', 'running')
        .where('lease_expires_at', '<=', now)
        .limit(1)
        .executeTakeFirst();
      if (expired) await this.cancelOrphans(trx, request.provider, now);
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
          .where(column, '<=', now)
          .where(isRunnable)
          .orderBy(column)
          .limit(limit);
        return (this.hooks.skipLocked ? query.forUpdate().skipLocked() : query).execute();
      };
      const ids = expired ? (await candidates('running', 't.lease_expires_at', request.limit)).map((r) => r.id) : [];
      if (ids.length < request.limit) ids.push(...(await candidates('pending', 't.due_at', request.limit - ids.length)).map((r) => r.id));
      if (ids.length === 0) return [];
      await trx
        .updateTable('tasks')
        .set({
          state: 'running',
          lease_owner: request.worker,
          lease_expires_at: now + request.leaseMs,
          updated_at: now,
          started_at: sql`coalesce(started_at, ${now})`,
        })
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
      return this.withDependencies(trx, rows);
    });
  }

  /**
   * A worker that died holding a task of a termination cancelled since then leaves the task
   * `running` with an expired lease; nobody may run it, so it ends cancelled here.
   */
  private async cancelOrphans(trx: Tx, provider: string, now: number): Promise<void> {
    // Read first: almost every claim finds none, and a claim that writes nothing stays a cheap read.
    const any = await trx
      .selectFrom('tasks')
      .select('id')
      .where('provider', '=', provider)
      .where('state', '=', 'running')
      .where('lease_expires_at', '<=', now)
      .where('termination_id', 'in', (eb) => eb.selectFrom('terminations').select('id').where('state', '=', 'cancelled'))
      .limit(1)
      .executeTakeFirst();
    if (!any) return;
    const orphans = await trx
      .updateTable('tasks')
      .set({ state: 'cancelled', lease_owner: null, lease_expires_at: null, finished_at: now, updated_at: now })
      .where('provider', '=', provider)
      .where('state', '=', 'running')
      .where('lease_expires_at', '<=', now)
      .where('termination_id', 'in', (eb) => eb.selectFrom('terminations').select('id').where('state', '=', 'cancelled'))
      .returning(['id', 'termination_id'])
      .execute();
    for (const orphan of orphans) {
      await this.audit(trx, { actor: 'engine', action: 'task.cancelled', terminationId: orphan.termination_id, taskId: orphan.id, data: { reason: 'lease expired after the termination was cancelled' } });
    }
  }

  async nextWakeAt(providers?: string[]): Promise<Date | null> {
    if (providers && providers.length === 0) return null;
    let pending = this.db
      .selectFrom('tasks as t')
      .select((eb) => eb.fn.min('t.due_at').as('at'))
      .where('t.state', '=', 'pending')
      .where(isRunnable);
    let leases = this.db
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

  async renewLeases(worker: string, taskIds: string[], until: Date): Promise<void> {
    if (taskIds.length === 0) return;
    // A row locked now is being finished (finishAttempt locks it, then queues for the audit
    // lock) or reclaimed after its lease lapsed: skip it. Waiting would hold back the
    // heartbeat of every other task, and under load let their leases expire mid-flight.
    let held = this.db
      .selectFrom('tasks')
      .select('id')
      .where('id', 'in', taskIds)
      .where('lease_owner', '=', worker)
      .where('state', '=', 'running');
    if (this.hooks.skipLocked) held = held.forUpdate().skipLocked();
    await this.db
      .updateTable('tasks')
      .set({ lease_expires_at: until.getTime() })
      .where('id', 'in', held)
      .where('lease_owner', '=', worker)
      .where('state', '=', 'running')
      .execute();
  }

  async finishAttempt(worker: string, taskId: string, outcome: AttemptOutcome, attempt: TaskAttempt): Promise<boolean> {
    let revoked: { terminationId: string; timeToRevokeMs: number } | null = null;
    const held = await this.db.transaction().execute(async (trx) => {
      revoked = null;
      const now = this.clock().getTime();
      // The lease is the right to decide the task's fate: a worker that lost it only leaves its attempt on record.
      // Checked, row-locked and read in one statement, so a replica that reclaimed the task meanwhile is not overwritten.
      const row = await trx
        .updateTable('tasks')
        .set({ updated_at: now })
        .where('id', '=', taskId)
        .where('state', '=', 'running')
        .where('lease_owner', '=', worker)
        .returningAll()
        .executeTakeFirst();
      const terminationId =
        row?.termination_id ?? (await trx.selectFrom('tasks').select('termination_id').where('id', '=', taskId).executeTakeFirst())?.termination_id;
      if (terminationId === undefined) return false;
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
          error_message: attempt.errorMessage,
          evidence: attempt.evidence ? JSON.stringify(attempt.evidence) : null,
        })
        .execute();
      if (!row) return false;
      // Serialises with cancelTermination, so a cancellation committed meanwhile is seen below.
      await this.hooks.lockAuditChain(trx);
      const common = { lease_owner: null, lease_expires_at: null, updated_at: now };
      const termination = await trx.selectFrom('terminations').selectAll().where('id', '=', row.termination_id).executeTakeFirstOrThrow();
      if (outcome.state === 'pending' && termination.state === 'cancelled') {
        // Cancelled while this attempt ran: nothing claims a cancelled termination's task, so it must not wait as pending.
        await trx
          .updateTable('tasks')
          .set({ ...common, state: 'cancelled', finished_at: now, account: outcome.account ? JSON.stringify(outcome.account) : row.account })
          .where('id', '=', taskId)
          .execute();
        await this.audit(trx, {
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
            attempts: row.attempts + (outcome.countsAsAttempt ? 1 : 0),
            rate_limited_count: row.rate_limited_count + (outcome.rateLimited ? 1 : 0),
            last_error: outcome.error ? JSON.stringify(outcome.error) : row.last_error,
            checkpoint: outcome.checkpoint ? JSON.stringify(outcome.checkpoint) : row.checkpoint,
            account: outcome.account ? JSON.stringify(outcome.account) : row.account,
          })
          .where('id', '=', taskId)
          .execute();
        if (outcome.error) {
          await this.audit(trx, {
            actor: `worker:${worker}`,
            action: 'task.retry_scheduled',
            terminationId: row.termination_id,
            taskId,
            data: { error: outcome.error, nextAttemptAt: new Date(next).toISOString() },
          });
        }
        await this.hooks.notifyOthers(trx);
        return true;
      }
      await trx
        .updateTable('tasks')
        .set({
          ...common,
          state: outcome.state,
          attempts: row.attempts + 1,
          finished_at: now,
          evidence: outcome.evidence ? JSON.stringify(outcome.evidence) : null,
          account: 'account' in outcome && outcome.account ? JSON.stringify(outcome.account) : row.account,
          last_error: outcome.state === 'failed' ? JSON.stringify(outcome.error) : null,
        })
        .where('id', '=', taskId)
        .execute();
      await this.audit(trx, {
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
        await this.insertTasks(trx, row.termination_id, await this.uniqueStepIds(trx, row.termination_id, outcome.followUp), now);
      }
      revoked = await this.settleTermination(trx, termination, now);
      await this.hooks.notifyOthers(trx);
      return true;
    });
    if (held) this.emitWake();
    if (revoked) this.wake.emit('revoked', revoked);
    return held;
  }

  /** A step that fails again after a replay gets a second follow-up: `step#2`, `step#3`... */
  private async uniqueStepIds(trx: Tx, terminationId: string, tasks: NewTask[]): Promise<NewTask[]> {
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
    let revoked: { terminationId: string; timeToRevokeMs: number } | null = null;
    const completed = await this.db.transaction().execute(async (trx) => {
      revoked = null;
      await this.hooks.lockAuditChain(trx);
      const now = this.clock().getTime();
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
      await this.audit(trx, { actor, action: 'task.completed_manually', terminationId: row.termination_id, taskId, data: { outcome, reason } });
      const termination = await trx.selectFrom('terminations').selectAll().where('id', '=', row.termination_id).executeTakeFirstOrThrow();
      revoked = await this.settleTermination(trx, termination, now);
      await this.hooks.notifyOthers(trx);
      const [task] = await this.withDependencies(trx, [row]);
      return task ?? null;
    });
    if (completed) this.emitWake();
    if (revoked) this.wake.emit('revoked', revoked);
    return completed;
  }

  /**
   * Derives the termination's state from its tasks after one of them finished. `termination`
   * is its row as read in this transaction after the audit chain lock.
   */
  private async settleTermination(
    trx: Tx,
    termination: Selectable<Database['terminations']>,
    now: number,
  ): Promise<{ terminationId: string; timeToRevokeMs: number } | null> {
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
      await this.audit(trx, {
        actor: 'engine',
        action: `termination.${next}`,
        terminationId,
        data: { previousState: termination.state },
      });
    }
    let revoked: { terminationId: string; timeToRevokeMs: number } | null = null;
    if (update.revoked_at !== undefined) {
      // Time to revoke counts from the effective time, or from receipt when that is later.
      revoked = { terminationId, timeToRevokeMs: now - Math.max(Number(termination.effective_at), Number(termination.requested_at)) };
      await this.audit(trx, { actor: 'engine', action: 'termination.revoked', terminationId, data: { timeToRevokeMs: revoked.timeToRevokeMs } });
    }
    await trx.updateTable('terminations').set(update).where('id', '=', terminationId).execute();
    return revoked;
  }

  async releaseTasks(worker: string, taskIds: string[]): Promise<void> {
    if (taskIds.length === 0) return;
    const now = this.clock().getTime();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('tasks')
        .set((eb) => ({
          state: 'pending',
          lease_owner: null,
          lease_expires_at: null,
          next_attempt_at: now,
          // due_at never moves before not_before.
          due_at: eb.case().when('not_before', '>', now).then(eb.ref('not_before')).else(now).end(),
          updated_at: now,
        }))
        .where('id', 'in', taskIds)
        .where('lease_owner', '=', worker)
        .where('state', '=', 'running')
        .execute();
      // A draining replica releases so that the others take over now, not after the lease.
      await this.hooks.notifyOthers(trx);
    });
    this.emitWake();
  }

  async replayFailedTasks(terminationId: string, taskId: string | null, actor: string): Promise<Task[]> {
    const replayed = await this.db.transaction().execute(async (trx) => {
      const now = this.clock().getTime();
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
        await this.audit(trx, {
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
      await this.hooks.notifyOthers(trx);
      const fresh = await trx.selectFrom('tasks').selectAll().where('id', 'in', rows.map((r) => r.id)).execute();
      return this.withDependencies(trx, fresh);
    });
    if (replayed.length > 0) this.emitWake();
    return replayed;
  }

  async stats(now: Date): Promise<StoreStats> {
    const tasks = await this.db
      .selectFrom('tasks')
      .select(['provider', 'action', 'state', (eb) => eb.fn.countAll<number>().as('count')])
      .groupBy(['provider', 'action', 'state'])
      .execute();
    const terminations = await this.db
      .selectFrom('terminations')
      .select(['state', (eb) => eb.fn.countAll<number>().as('count')])
      .groupBy('state')
      .execute();
    const due = await this.db
      .selectFrom('tasks as t')
      .select((eb) => eb.fn.min('t.due_at').as('at'))
      .where('t.state', '=', 'pending')
      .where('t.due_at', '<=', now.getTime())
      // Manual steps wait for people by design; they have their own overdue measure.
      .where('t.action', '!=', 'manual')
      .where(isRunnable)
      .executeTakeFirst();
    const oldest = due?.at === null || due?.at === undefined ? null : Number(due.at);
    const manual = await this.db
      .selectFrom('tasks as t')
      .select(['t.due_at', 't.params'])
      .where('t.action', '=', 'manual')
      .where('t.state', '=', 'pending')
      .where(isRunnable)
      .execute();
    const overdue = manual.filter((m) => {
      const within = parseDuration(String((JSON.parse(m.params) as JsonObject).dueWithin ?? ''));
      return within !== null && Number(m.due_at) + within <= now.getTime();
    }).length;
    return {
      tasks: tasks.map((t) => ({ provider: t.provider, action: t.action, state: t.state as Task['state'], count: Number(t.count) })),
      terminations: terminations.map((t) => ({ state: t.state as TerminationState, count: Number(t.count) })),
      oldestDueTaskAgeSeconds: oldest === null ? 0 : Math.max(0, (now.getTime() - oldest) / 1000),
      heldTerminations: Number(terminations.find((t) => t.state === 'held')?.count ?? 0),
      manualPending: manual.length,
      manualOverdue: overdue,
    };
  }

  async appendAudit(entry: {
    actor: string;
    action: string;
    terminationId?: string | null;
    taskId?: string | null;
    data?: JsonObject;
  }): Promise<void> {
    await this.db.transaction().execute((trx) => this.audit(trx, entry));
  }

  async listAudit(afterSeq: number, limit: number): Promise<AuditEntry[]> {
    const rows = await this.db.selectFrom('audit_log').selectAll().where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute();
    return rows.map(toAuditEntry);
  }

  async listAuditOf(terminationId: string): Promise<AuditEntry[]> {
    const rows = await this.db.selectFrom('audit_log').selectAll().where('termination_id', '=', terminationId).orderBy('seq').execute();
    return rows.map(toAuditEntry);
  }

  async pruneAudit(before: Date, actor: string): Promise<{ pruned: number; throughSeq: number | null }> {
    return this.db.transaction().execute(async (trx) => {
      await this.hooks.lockAuditChain(trx);
      const old = await trx
        .selectFrom('audit_log as a')
        .leftJoin('terminations as t', 't.id', 'a.termination_id')
        .select(['a.seq', 'a.hash', 't.state'])
        .where('a.at', '<', before.getTime())
        .orderBy('a.seq')
        .limit(10_000)
        .execute();
      // Only a prefix can go, or the chain would have holes; an open termination's entries stop it.
      let through: { seq: number; hash: string } | null = null;
      for (const entry of old) {
        if (entry.state && UNRESOLVED_TERMINATION_STATES.includes(entry.state as TerminationState)) break;
        through = { seq: Number(entry.seq), hash: entry.hash };
      }
      if (!through) return { pruned: 0, throughSeq: null };
      const deleted = await trx.deleteFrom('audit_log').where('seq', '<=', through.seq).executeTakeFirst();
      const now = this.clock().getTime();
      await trx.deleteFrom('audit_anchor').execute();
      await trx.insertInto('audit_anchor').values({ id: 1, seq: through.seq, hash: through.hash, pruned_at: now }).execute();
      await this.audit(trx, { actor, action: 'audit.pruned', data: { throughSeq: through.seq, anchorHash: through.hash, before: before.toISOString() } });
      return { pruned: Number(deleted.numDeletedRows), throughSeq: through.seq };
    });
  }

  async auditAnchor(): Promise<{ seq: number; hash: string } | null> {
    const row = await this.db.selectFrom('audit_anchor').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirst();
    return row ? { seq: Number(row.seq), hash: row.hash } : null;
  }

  /** Appends to the hash chain inside the caller's transaction, so the entry commits with the change it records. */
  protected async audit(
    trx: Tx,
    entry: { actor: string; action: string; terminationId?: string | null; taskId?: string | null; data?: JsonObject },
  ): Promise<void> {
    await this.hooks.lockAuditChain(trx);
    const last = await trx.selectFrom('audit_log').select('hash').orderBy('seq', 'desc').limit(1).executeTakeFirst();
    const prevHash = last?.hash ?? GENESIS_HASH;
    const fields = {
      at: this.clock().getTime(),
      actor: entry.actor,
      action: entry.action,
      terminationId: entry.terminationId ?? null,
      taskId: entry.taskId ?? null,
      data: JSON.stringify(entry.data ?? {}),
    };
    await trx
      .insertInto('audit_log')
      .values({
        at: fields.at,
        actor: fields.actor,
        action: fields.action,
        termination_id: fields.terminationId,
        task_id: fields.taskId,
        data: fields.data,
        prev_hash: prevHash,
        hash: chainHash(prevHash, fields),
      })
      .execute();
  }

  private async requireTermination(trx: Tx, id: string): Promise<Termination> {
    return toTermination(await trx.selectFrom('terminations').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
  }
}

function encodeCursor(at: number, id: string): string {
  return Buffer.from(JSON.stringify([at, id])).toString('base64url');
}

function decodeCursor(cursor: string | undefined): { at: number; id: string } | null {
  if (!cursor) return null;
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof at === 'number' && typeof id === 'string') return { at, id };
  } catch {
    // fall through: a malformed cursor is a bad request, not a server error
  }
  throw new InvalidCursorError();
}

export class InvalidCursorError extends Error {
  constructor() {
    super('invalid pagination cursor');
    this.name = 'InvalidCursorError';
  }
}
