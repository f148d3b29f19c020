/** Mapping between table rows and domain objects. */
import type { Selectable } from 'kysely';
import type { JsonObject, Task, TaskAttempt, Termination } from '../domain/types.ts';
import type { AuditEntry } from './store.ts';
import type { AuditLogTable, TaskAttemptsTable, TasksTable, TerminationsTable } from './schema.ts';

const date = (ms: number | string) => new Date(Number(ms));
const optionalDate = (ms: number | string | null) => (ms === null ? null : date(ms));
// The JSON columns hold what the store wrote from these same types.
const jsonObject = (text: string | null) => (text === null ? null : (JSON.parse(text) as JsonObject));

export function toTermination(row: Selectable<TerminationsTable>): Termination {
  return {
    id: row.id,
    source: row.source as Termination['source'],
    sourceEventId: row.source_event_id,
    subjectKey: row.subject_key,
    subject: JSON.parse(row.subject) as Termination['subject'],
    reason: row.reason,
    playbook: row.playbook,
    state: row.state as Termination['state'],
    requestedAt: date(row.requested_at),
    effectiveAt: date(row.effective_at),
    revokedAt: optionalDate(row.revoked_at),
    finishedAt: optionalDate(row.finished_at),
    createdBy: row.created_by,
  };
}

export function toTask(row: Selectable<TasksTable>, dependsOn: string[]): Task {
  return {
    id: row.id,
    terminationId: row.termination_id,
    stepId: row.step_id,
    provider: row.provider,
    action: row.action as Task['action'],
    params: JSON.parse(row.params) as JsonObject,
    critical: Boolean(row.critical),
    dependsOn,
    notBefore: date(row.not_before),
    state: row.state as Task['state'],
    attempts: row.attempts,
    rateLimitedCount: row.rate_limited_count,
    nextAttemptAt: date(row.next_attempt_at),
    leaseOwner: row.lease_owner,
    leaseToken: row.lease_token,
    leaseExpiresAt: optionalDate(row.lease_expires_at),
    account: jsonObject(row.account),
    checkpoint: jsonObject(row.checkpoint),
    lastError: row.last_error === null ? null : (JSON.parse(row.last_error) as Task['lastError']),
    evidence: jsonObject(row.evidence),
    startedAt: optionalDate(row.started_at),
    finishedAt: optionalDate(row.finished_at),
  };
}

export function toAttempt(row: Selectable<TaskAttemptsTable>): TaskAttempt {
  return {
    taskId: row.task_id,
    attempt: row.attempt,
    worker: row.worker,
    startedAt: date(row.started_at),
    finishedAt: date(row.finished_at),
    outcome: row.outcome as TaskAttempt['outcome'],
    errorKind: row.error_kind,
    errorMessage: row.error_message,
    evidence: jsonObject(row.evidence),
  };
}

export function toAuditEntry(row: Selectable<AuditLogTable>): AuditEntry {
  return {
    seq: Number(row.seq),
    position: row.chain_pos === null ? null : Number(row.chain_pos),
    at: date(row.at),
    actor: row.actor,
    action: row.action,
    terminationId: row.termination_id,
    taskId: row.task_id,
    data: JSON.parse(row.data) as JsonObject,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
