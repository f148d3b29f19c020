/**
 * What the sandboxes and the store say a multi-replica run did, checked against what it
 * was allowed to do: writes repeated (and whether the operation may repeat), writes after
 * the task's success was recorded, attempts of one task that overlap in time, results the
 * store discarded, and task records that contradict the provider.
 */
import type pg from 'pg';
import type { ReplicaStep } from './replica-cluster.ts';

/**
 * Each sandbox write counter and what it stands for at the provider (method and path),
 * and whether sending it again changes nothing. A revocation or a PUT/PATCH of a state is
 * idempotent; ownership transfers, invites, lifecycle transitions, deletes and pushes are
 * not (a repeat starts a second transfer, grants a second permission, deletes what a
 * deactivation left, sends a second message).
 */
export const WRITE_KINDS: Record<ReplicaStep['provider'], Record<string, { request: string; idempotent: boolean }>> = {
  okta: {
    revoke_sessions: { request: 'DELETE /api/v1/users/{id}/sessions', idempotent: true },
    revoke_grants: { request: 'DELETE /api/v1/users/{id}/grants', idempotent: true },
    suspend: { request: 'POST /api/v1/users/{id}/lifecycle/suspend', idempotent: false },
    deactivate: { request: 'POST /api/v1/users/{id}/lifecycle/deactivate (or DELETE of an active user)', idempotent: false },
    delete: { request: 'DELETE /api/v1/users/{id} (deprovisioned)', idempotent: false },
    remove_group: { request: 'DELETE /api/v1/groups/{gid}/users/{id}', idempotent: true },
  },
  google: {
    'users.update': { request: 'PUT /admin/directory/v1/users/{id} (suspended)', idempotent: true },
    'users.signOut': { request: 'POST /admin/directory/v1/users/{id}/signOut', idempotent: true },
    'tokens.delete': { request: 'DELETE /admin/directory/v1/users/{id}/tokens/{client}', idempotent: true },
    'asps.delete': { request: 'DELETE /admin/directory/v1/users/{id}/asps/{code}', idempotent: true },
    'members.delete': { request: 'DELETE /admin/directory/v1/groups/{gid}/members/{id}', idempotent: true },
    'transfers.insert': { request: 'POST /admin/datatransfer/v1/transfers', idempotent: false },
    'users.delete': { request: 'DELETE /admin/directory/v1/users/{id}', idempotent: false },
  },
  microsoft: {
    update_user: { request: 'PATCH /users/{id} (accountEnabled)', idempotent: true },
    revoke_sessions: { request: 'POST /users/{id}/revokeSignInSessions', idempotent: true },
    remove_group_member: { request: 'DELETE /groups/{gid}/members/{id}/$ref', idempotent: true },
    grant_drive_access: { request: 'POST /drives/{id}/root/invite', idempotent: false },
    delete_user: { request: 'DELETE /users/{id}', idempotent: false },
  },
};

export function isIdempotent(provider: ReplicaStep['provider'], operation: string): boolean {
  const kind = WRITE_KINDS[provider][operation];
  if (!kind) throw new Error(`${provider} write "${operation}" is not classified in WRITE_KINDS: classify it before counting it`);
  return kind.idempotent;
}

export interface WriteLogEntry {
  operation: string;
  accountId: string;
  at: number;
}

export async function sandboxWriteLog(baseUrl: string): Promise<WriteLogEntry[]> {
  const res = await fetch(`${baseUrl}/__sandbox/writes`);
  if (!res.ok) throw new Error(`sandbox write log at ${baseUrl}: ${res.status}`);
  return (await res.json()) as WriteLogEntry[];
}

export interface TaskRow {
  id: string;
  termination_id: string;
  step_id: string;
  state: string;
  account: string | null;
  finished_at: string | number | null;
}

export interface AttemptRow {
  id: number;
  task_id: string;
  worker: string;
  outcome: string;
  started_at: string | number;
  finished_at: string | number | null;
}

export interface RepeatedWrite {
  provider: string;
  operation: string;
  taskId: string;
  stepId: string;
  extra: number;
  idempotent: boolean;
  /** Writes that reached the provider after the task's success was recorded. */
  afterSucceeded: number;
  /** When the repeats happened (epoch ms), to place them in a round. */
  at: number[];
  /** When every write of it happened, the first included (epoch ms): to tell what sent them. */
  all: number[];
}

export interface WriteAudit {
  repeated: RepeatedWrite[];
  /** Writes of the playbook's operations that no task accounts for (unknown account). */
  unaccounted: string[];
  /** Task records that contradict the provider: reported skipped ("no account") although this run wrote to that account. */
  contradictions: Array<{ taskId: string; detail: string }>;
}

const accountIdOf = (task: TaskRow): string | undefined => (task.account ? (JSON.parse(task.account) as { id?: string }).id : undefined);

/**
 * Matches the sandboxes' write logs against the tasks: each task's writes beyond one
 * execution are repeats, split by whether the operation may repeat and by whether they
 * came after the task was recorded succeeded. A task without an account (skipped, failed
 * before resolving) takes the account its termination resolved at that provider.
 */
export function auditWrites(
  steps: readonly ReplicaStep[],
  tasks: TaskRow[],
  logs: Record<ReplicaStep['provider'], WriteLogEntry[]>,
): WriteAudit {
  const stepById = new Map(steps.map((s) => [s.id, s]));
  const accountAt = new Map<string, string>();
  for (const task of tasks) {
    const id = accountIdOf(task);
    if (id) accountAt.set(`${task.termination_id}|${stepById.get(task.step_id)!.provider}`, id);
  }
  const byKey = new Map<string, WriteLogEntry[]>();
  for (const [provider, log] of Object.entries(logs)) {
    for (const w of log) {
      const key = `${provider}|${w.operation}|${w.accountId}`;
      byKey.set(key, [...(byKey.get(key) ?? []), w]);
    }
  }
  const claimed = new Set<string>();
  const result: WriteAudit = { repeated: [], unaccounted: [], contradictions: [] };
  for (const task of tasks) {
    const step = stepById.get(task.step_id)!;
    const accountId = accountIdOf(task) ?? accountAt.get(`${task.termination_id}|${step.provider}`);
    if (!accountId) continue;
    const finishedAt = task.finished_at === null ? null : Number(task.finished_at);
    for (const [operation, once] of Object.entries(step.writes)) {
      const key = `${step.provider}|${operation}|${accountId}`;
      claimed.add(key);
      const seen = byKey.get(key) ?? [];
      if (task.state === 'skipped' && seen.length > 0) {
        result.contradictions.push({
          taskId: task.id,
          detail: `${step.id} ${task.id}: recorded skipped, but ${step.provider} saw ${seen.length} ${operation} write(s) to ${accountId}`,
        });
      }
      if (seen.length <= once) continue;
      const afterSucceeded = task.state === 'succeeded' && finishedAt !== null ? seen.filter((w) => w.at > finishedAt).length : 0;
      result.repeated.push({
        provider: step.provider,
        operation,
        taskId: task.id,
        stepId: step.id,
        extra: seen.length - once,
        idempotent: isIdempotent(step.provider, operation),
        afterSucceeded,
        at: seen.slice(once).map((w) => w.at),
        all: seen.map((w) => w.at),
      });
    }
  }
  const playbookOperations = new Set(steps.flatMap((s) => Object.keys(s.writes).map((op) => `${s.provider}|${op}`)));
  for (const [key, writes] of byKey) {
    const [provider, operation] = key.split('|');
    if (!claimed.has(key) && playbookOperations.has(`${provider}|${operation}`))
      result.unaccounted.push(`${key}: ${writes.length} write(s)`);
  }
  return result;
}

export interface Overlap {
  taskId: string;
  first: AttemptRow;
  second: AttemptRow;
  overlapMs: number;
}

/**
 * Pairs of attempts of one task whose [started_at, finished_at] intersect: the task was
 * run twice at once (by two replicas, or twice by one). An attempt without a finish time
 * (its replica died) is taken to end where the next attempt of the task starts.
 */
export function overlappingAttempts(attempts: AttemptRow[]): Overlap[] {
  const byTask = new Map<string, AttemptRow[]>();
  for (const a of attempts) byTask.set(a.task_id, [...(byTask.get(a.task_id) ?? []), a]);
  const overlaps: Overlap[] = [];
  for (const [taskId, list] of byTask) {
    const sorted = [...list].sort((x, y) => Number(x.started_at) - Number(y.started_at));
    for (let i = 0; i < sorted.length; i += 1) {
      const a = sorted[i]!;
      const aEnd = a.finished_at === null ? Number(sorted[i + 1]?.started_at ?? a.started_at) : Number(a.finished_at);
      for (const b of sorted.slice(i + 1)) {
        const bStart = Number(b.started_at);
        if (bStart >= aEnd) break;
        const bEnd = b.finished_at === null ? bStart : Number(b.finished_at);
        overlaps.push({ taskId, first: a, second: b, overlapMs: Math.min(aEnd, bEnd) - bStart });
      }
    }
  }
  return overlaps;
}

/**
 * Attempts whose result the store refused (finishAttempt found the lease gone): the
 * attempt row is written, but no audit entry by that worker records its outcome. Counted
 * per (task, worker, outcome) so a second applied attempt cannot hide a refused one.
 * Only outcomes that always leave an audit entry when applied are judged.
 */
export async function discardedResults(db: pg.Pool): Promise<AttemptRow[]> {
  const audited: Record<string, string> = {
    succeeded: 'task.succeeded',
    skipped: 'task.skipped',
    failed: 'task.failed',
    retry: 'task.retry_scheduled',
  };
  const { rows: attempts } = await db.query<AttemptRow>(
    `select id, task_id, worker, outcome, started_at, finished_at from task_attempts where outcome = any($1) order by id`,
    [Object.keys(audited)],
  );
  const { rows: entries } = await db.query<{ task_id: string; actor: string; action: string; n: string }>(
    `select task_id, actor, action, count(*) as n from audit_log where task_id is not null and actor like 'worker:%' group by task_id, actor, action`,
  );
  const recorded = new Map(entries.map((e) => [`${e.task_id}|${e.actor}|${e.action}`, Number(e.n)]));
  const discarded: AttemptRow[] = [];
  const used = new Map<string, number>();
  for (const a of attempts) {
    const key = `${a.task_id}|worker:${a.worker}|${audited[a.outcome]}`;
    const n = (used.get(key) ?? 0) + 1;
    used.set(key, n);
    if (n > (recorded.get(key) ?? 0)) discarded.push(a);
  }
  return discarded;
}
