/**
 * What the admin API, the CLI, evidence and metrics read: terminations, tasks, attempts,
 * and the queue statistics behind the gauges. Nothing here writes.
 */
import type { Kysely, Selectable } from 'kysely';
import {
  DESTRUCTIVE_ACTIONS,
  type JsonObject,
  type Task,
  type TaskAttempt,
  type Termination,
  type TerminationState,
} from '../../domain/types.ts';
import { parseDuration } from '../../config/duration.ts';
import { toAttempt, toTask, toTermination } from '../rows.ts';
import type { Database } from '../schema.ts';
import type { ReadModel, StoreStats, TerminationFilter } from '../store.ts';
import type { StoreContext, Tx } from './context.ts';
import { underLegalHold } from './legal-holds.ts';
import { subjectOrIdMatches } from './subject-search.ts';
import { isRunnable } from './runnable.ts';

export class SqlReadModel implements ReadModel {
  constructor(private readonly ctx: StoreContext) {}

  async getTermination(id: string): Promise<Termination | null> {
    const row = await this.ctx.db.selectFrom('terminations').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toTermination(row, await this.ctx.personal.read(this.ctx.db, [id])) : null;
  }

  async getTerminations(ids: readonly string[]): Promise<Map<string, Termination>> {
    if (ids.length === 0) return new Map();
    const rows = await this.ctx.db
      .selectFrom('terminations')
      .selectAll()
      .where('id', 'in', [...ids])
      .execute();
    const keys = await this.ctx.personal.read(
      this.ctx.db,
      rows.map((r) => r.id),
    );
    return new Map(rows.map((row) => [row.id, toTermination(row, keys)]));
  }

  async listTerminations(filter: TerminationFilter): Promise<{ items: Termination[]; nextCursor: string | null }> {
    let query = this.ctx.db.selectFrom('terminations').selectAll();
    if (filter.state) query = query.where('state', '=', filter.state);
    if (filter.withFailedTasks) {
      query = query.where((eb) =>
        eb.exists(
          eb
            .selectFrom('tasks')
            .select('tasks.id')
            .whereRef('tasks.termination_id', '=', 'terminations.id')
            .where('tasks.state', '=', 'failed'),
        ),
      );
    }
    const index = (key: string) => this.ctx.personal.index(key);
    if (filter.subjectKey) query = query.where('subject_key', '=', index(filter.subjectKey));
    // SQL has no empty IN (): an empty list matches nothing, and no subject key is ''.
    if (filter.subjectKeys) query = query.where('subject_key', 'in', filter.subjectKeys.length > 0 ? filter.subjectKeys.map(index) : ['']);
    if (filter.since) query = query.where('requested_at', '>=', filter.since.getTime());
    if (filter.until) query = query.where('requested_at', '<', filter.until.getTime());
    if (filter.source) query = query.where('source', '=', filter.source);
    if (filter.search) query = query.where(subjectOrIdMatches(this.ctx.personal, filter.search));
    const cursor = decodeCursor(filter.cursor);
    if (cursor) {
      // Newest first; the cursor is the (requested_at, id) of the last item of the previous page.
      query = query.where((eb) =>
        eb.or([eb('requested_at', '<', cursor.at), eb.and([eb('requested_at', '=', cursor.at), eb('id', '<', cursor.id)])]),
      );
    }
    const rows = await query
      .orderBy('requested_at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit + 1)
      .execute();
    const page = rows.slice(0, filter.limit);
    const keys = await this.ctx.personal.read(
      this.ctx.db,
      page.map((r) => r.id),
    );
    const items = page.map((row) => toTermination(row, keys));
    const last = items.at(-1);
    const nextCursor = rows.length > filter.limit && last ? encodeCursor(last.requestedAt.getTime(), last.id) : null;
    return { items, nextCursor };
  }

  async listTasks(terminationId: string): Promise<Task[]> {
    const rows = await this.ctx.db
      .selectFrom('tasks')
      .selectAll()
      .where('termination_id', '=', terminationId)
      .orderBy('not_before')
      .orderBy('step_id')
      .execute();
    return withDependencies(this.ctx, this.ctx.db, rows);
  }

  async getTask(id: string): Promise<Task | null> {
    const row = await this.ctx.db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return null;
    const [task] = await withDependencies(this.ctx, this.ctx.db, [row]);
    return task ?? null;
  }

  async listAttempts(terminationId: string): Promise<TaskAttempt[]> {
    const rows = await this.ctx.db
      .selectFrom('task_attempts')
      .selectAll()
      .where('termination_id', '=', terminationId)
      .orderBy('id')
      .execute();
    const keys = await this.ctx.personal.read(this.ctx.db, [terminationId]);
    return rows.map((row) => toAttempt(row, keys));
  }

  async revokeTimes(since: Date): Promise<number[]> {
    const rows = await this.ctx.db
      .selectFrom('terminations')
      .select(['revoked_at', 'effective_at', 'requested_at'])
      .where('revoked_at', '>=', since.getTime())
      .execute();
    // The same measure as the evidence document's timeToRevokeMs.
    return rows.map((r) => Number(r.revoked_at) - Math.max(Number(r.effective_at), Number(r.requested_at)));
  }

  async stats(now: Date): Promise<StoreStats> {
    const { db } = this.ctx;
    const tasks = await db
      .selectFrom('tasks')
      .select(['provider', 'action', 'state', (eb) => eb.fn.countAll<number>().as('count')])
      .groupBy(['provider', 'action', 'state'])
      .execute();
    const terminations = await db
      .selectFrom('terminations')
      .select(['state', (eb) => eb.fn.countAll<number>().as('count')])
      .groupBy('state')
      .execute();
    const due = await db
      .selectFrom('tasks as t')
      // NULL when no task matches; PostgreSQL returns the BIGINT as a string.
      .select((eb) => eb.fn.min<number | string | null>('t.due_at').as('at'))
      .where('t.state', '=', 'pending')
      .where('t.due_at', '<=', now.getTime())
      // Manual steps wait for people by design; they have their own overdue measure.
      .where('t.action', '!=', 'manual')
      .where(isRunnable)
      .executeTakeFirst();
    const oldest = due?.at === null || due?.at === undefined ? null : Number(due.at);
    const manual = await db
      .selectFrom('tasks as t')
      .select(['t.due_at', 't.params'])
      .where('t.action', '=', 'manual')
      .where('t.state', '=', 'pending')
      .where(isRunnable)
      .execute();
    const holds = await db
      .selectFrom('legal_holds')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('released_at', 'is', null)
      .executeTakeFirst();
    const held = await db
      .selectFrom('tasks as t')
      .select(['t.provider', 't.action', (eb) => eb.fn.countAll<number>().as('count')])
      .where('t.state', '=', 'pending')
      .where('t.action', 'in', [...DESTRUCTIVE_ACTIONS])
      .where(underLegalHold)
      .groupBy(['t.provider', 't.action'])
      .execute();
    const overdue = manual.filter((m) => {
      const dueWithin = (JSON.parse(m.params) as JsonObject).dueWithin;
      const within = typeof dueWithin === 'string' ? parseDuration(dueWithin) : null;
      return within !== null && Number(m.due_at) + within <= now.getTime();
    }).length;
    // The text filter narrows to candidates on both dialects (checkpoints are JSON.stringify's
    // output); each is then parsed, so only a real `overdue: true` counts.
    const waiting = await db
      .selectFrom('tasks')
      .select(['provider', 'action', 'checkpoint'])
      .where('state', '=', 'pending')
      .where('checkpoint', 'like', '%"overdue":true%')
      .execute();
    const waitingOverdue = new Map<string, { provider: string; action: string; count: number }>();
    for (const row of waiting) {
      if ((JSON.parse(row.checkpoint ?? '{}') as JsonObject).overdue !== true) continue;
      const key = `${row.provider}\u0000${row.action}`;
      const entry = waitingOverdue.get(key) ?? { provider: row.provider, action: row.action, count: 0 };
      entry.count += 1;
      waitingOverdue.set(key, entry);
    }
    return {
      tasks: tasks.map((t) => ({ provider: t.provider, action: t.action, state: t.state as Task['state'], count: Number(t.count) })),
      terminations: terminations.map((t) => ({ state: t.state as TerminationState, count: Number(t.count) })),
      oldestDueTaskAgeSeconds: oldest === null ? 0 : Math.max(0, (now.getTime() - oldest) / 1000),
      heldTerminations: Number(terminations.find((t) => t.state === 'held')?.count ?? 0),
      manualPending: manual.length,
      manualOverdue: overdue,
      legalHoldsActive: Number(holds?.count ?? 0),
      heldByLegalHold: held.map((h) => ({ provider: h.provider, action: h.action, count: Number(h.count) })),
      waitingOverdue: [...waitingOverdue.values()],
    };
  }
}

/** Tasks with the step ids they depend on: one query for the whole batch. */
export async function withDependencies(
  ctx: Pick<StoreContext, 'personal'>,
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
  const keys = await ctx.personal.read(
    db,
    rows.map((r) => r.termination_id),
  );
  return rows.map((row) => toTask(row, byTask.get(row.id) ?? [], keys));
}

function encodeCursor(at: number, id: string): string {
  return Buffer.from(JSON.stringify([at, id])).toString('base64url');
}

function decodeCursor(cursor: string | undefined): { at: number; id: string } | null {
  if (!cursor) return null;
  try {
    const decoded: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(decoded)) {
      const [at, id] = decoded as unknown[];
      // A safe integer: PostgreSQL refuses a bigint beyond 64 bits, which would answer 503 instead of 400.
      if (typeof at === 'number' && Number.isSafeInteger(at) && typeof id === 'string') return { at, id };
    }
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
