/**
 * Table shapes as Kysely sees them. Times are epoch milliseconds (bigint in PostgreSQL,
 * integer in SQLite) and JSON is text, so one query set serves both dialects.
 */
import type { Generated } from 'kysely';

export interface TerminationsTable {
  id: string;
  source: string;
  source_event_id: string | null;
  subject_key: string;
  /** Every key the subject forms, as a JSON array (migration 0015; src/domain/subject.ts keyListOf). */
  subject_keys: string | null;
  subject: string;
  reason: string | null;
  playbook: string;
  state: string;
  requested_at: number;
  effective_at: number;
  revoked_at: number | null;
  finished_at: number | null;
  created_by: string;
  created_at: number;
  updated_at: number;
  /** Every channel that asked for it, comma-separated and sorted; '' on rows older than migration 0011 (read: `source`). */
  requested_by: Generated<string>;
}

/** Requests that joined, brought forward or superseded a termination, by source event id (migration 0011). */
export interface TerminationRequestsTable {
  source: string;
  source_event_id: string;
  termination_id: string;
  outcome: string;
  body_sha256: string | null;
  received_at: number;
}

export interface TasksTable {
  id: string;
  termination_id: string;
  step_id: string;
  provider: string;
  action: string;
  params: string;
  critical: number;
  not_before: number;
  state: string;
  attempts: number;
  rate_limited_count: number;
  next_attempt_at: number;
  /** max(not_before, next_attempt_at): one indexed column tells when a pending task is due. */
  due_at: number;
  /** 1 for a task that runs while its termination is held (the brake's notification). */
  runs_while_held: Generated<number>;
  lease_owner: string | null;
  /** The current claim's token: only its holder's heartbeats and results are written. */
  lease_token: string | null;
  lease_expires_at: number | null;
  account: string | null;
  checkpoint: string | null;
  last_error: string | null;
  evidence: string | null;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
}

export interface TaskDependenciesTable {
  task_id: string;
  depends_on_task_id: string;
}

export interface TaskAttemptsTable {
  id: Generated<number>;
  task_id: string;
  termination_id: string;
  attempt: number;
  worker: string;
  started_at: number;
  finished_at: number;
  outcome: string;
  error_kind: string | null;
  error_message: string | null;
  evidence: string | null;
}

export interface AuditLogTable {
  seq: Generated<number>;
  at: number;
  actor: string;
  action: string;
  termination_id: string | null;
  task_id: string | null;
  data: string;
  /** The three below are null until the linker links the entry (migration 0010). */
  prev_hash: string | null;
  hash: string | null;
  /** Place in the chain, assigned at link time: the chain's order (on PostgreSQL `seq` commits out of order). */
  chain_pos: number | null;
}

export interface AuditAnchorTable {
  /** Always 1: one anchor per chain. */
  id: number;
  /** Position of the last pruned entry: the first remaining one links to it. */
  chain_pos: number;
  hash: string;
  pruned_at: number;
}

/** Re-verifications of completed terminations' tasks (migration 0014, src/domain/reverify.ts). */
export interface ReverificationsTable {
  id: string;
  termination_id: string;
  task_id: string;
  provider: string;
  action: string;
  reason: string;
  round: number | null;
  due_at: number;
  state: string;
  claims: number;
  lease_owner: string | null;
  lease_token: string | null;
  lease_expires_at: number | null;
  outcome: string | null;
  evidence: string | null;
  finished_at: number | null;
  created_at: number;
}

/** Legal holds on subjects or terminations (migration 0015, src/domain/legal-hold.ts). */
export interface LegalHoldsTable {
  id: string;
  /** The subject as the operator named it (JSON), for a subject hold. */
  subject: string | null;
  termination_id: string | null;
  reason: string;
  placed_by: string;
  placed_at: number;
  released_by: string | null;
  released_at: number | null;
  release_reason: string | null;
}

/** Every subject key a subject hold covers, with the LIKE pattern that finds it in `terminations.subject_keys`. */
export interface LegalHoldSubjectsTable {
  hold_id: string;
  subject_key: string;
  pattern: string;
}

export interface Database {
  terminations: TerminationsTable;
  termination_requests: TerminationRequestsTable;
  tasks: TasksTable;
  task_dependencies: TaskDependenciesTable;
  task_attempts: TaskAttemptsTable;
  audit_log: AuditLogTable;
  audit_anchor: AuditAnchorTable;
  reverifications: ReverificationsTable;
  legal_holds: LegalHoldsTable;
  legal_hold_subjects: LegalHoldSubjectsTable;
}
