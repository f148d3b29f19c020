/** Mapping between table rows and domain objects. */
import type { Selectable } from 'kysely';
import { subjectKey } from '../domain/subject.ts';
import type { JsonObject, Subject, Task, TaskAttempt, Termination } from '../domain/types.ts';
import { pseudonymOf } from '../privacy/pseudonym.ts';
import { ERASED, type RecordKeys } from './sql/personal-data.ts';
import type { AuditEntry } from './store.ts';
import type { AuditLogTable, TaskAttemptsTable, TasksTable, TerminationsTable } from './schema.ts';

const date = (ms: number | string) => new Date(Number(ms));
const optionalDate = (ms: number | string | null) => (ms === null ? null : date(ms));
// The JSON columns hold what the store wrote from these same types.
const jsonObject = (text: string | null) => (text === null ? null : (JSON.parse(text) as JsonObject));

/**
 * The personal columns of a termination's rows, sealed under its data key
 * (src/store/sql/personal-data.ts): tasks, attempts and re-verifications are the
 * termination's record, so they share its key. The names are the associated data.
 */
export const SEALED = {
  subject: 'terminations.subject',
  reason: 'terminations.reason',
  account: 'tasks.account',
  /** A member task's params name the client's person (src/domain/members.ts): sealed; others are the playbook's, in clear. */
  params: 'tasks.params',
  lastError: 'tasks.last_error',
  evidence: 'tasks.evidence',
  attemptError: 'task_attempts.error_message',
  attemptEvidence: 'task_attempts.evidence',
  reverificationEvidence: 'reverifications.evidence',
} as const;

/**
 * Seals a JSON column of termination `owner`'s record; null stays null. A record with no
 * data key is one from before migration 0016 that the start pass has not sealed yet
 * (sealLegacyRecords): its value is written as it always was, and sealed with the rest.
 */
export function sealedJson(keys: RecordKeys, owner: string, field: string, value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return keys.has(owner) ? keys.sealJson(owner, field, value) : JSON.stringify(value);
}

export function sealedText(keys: RecordKeys, owner: string, field: string, value: string | null): string | null {
  if (value === null) return null;
  return keys.has(owner) ? keys.seal(owner, field, value) : value;
}

/** Opens a JSON column; an erased record's value reads `{ erased: true }`. */
export function openedJson(keys: RecordKeys, owner: string, field: string, stored: string | null): JsonObject | null {
  if (stored === null) return null;
  const text = keys.open(owner, field, stored);
  return text === null ? { erased: true } : (JSON.parse(text) as JsonObject);
}

/** A termination's subject, opened; an erased one goes by its pseudonym. */
export function openSubject(
  row: { id: string; subject: string; subject_key?: string },
  keys: RecordKeys,
): { subject: Subject; erased: boolean } {
  // Erased (erasure.ts): filed under its pseudonym, its key destroyed.
  const text = row.subject_key === pseudonymOf(row.id) ? null : keys.open(row.id, SEALED.subject, row.subject);
  if (text === null) return { subject: { userName: pseudonymOf(row.id), emails: [] }, erased: true };
  return { subject: JSON.parse(text) as Subject, erased: false };
}

/** The subject's key; a subject that forms none (written by a test or tool with a key of its own) goes by the pseudonym. */
function keyOf(subject: Subject, id: string): string {
  try {
    return subjectKey(subject);
  } catch {
    return pseudonymOf(id);
  }
}

export function toTermination(row: Selectable<TerminationsTable>, keys: RecordKeys): Termination {
  const { subject, erased } = openSubject(row, keys);
  return {
    id: row.id,
    source: row.source as Termination['source'],
    sourceEventId: row.source_event_id,
    // The stored key is a blind index; the key itself is the subject's (or, erased, the pseudonym's).
    subjectKey: erased ? pseudonymOf(row.id) : keyOf(subject, row.id),
    subject,
    reason: row.reason === null ? null : (keys.open(row.id, SEALED.reason, row.reason) ?? ERASED),
    playbook: row.playbook,
    state: row.state as Termination['state'],
    requestedAt: date(row.requested_at),
    effectiveAt: date(row.effective_at),
    revokedAt: optionalDate(row.revoked_at),
    finishedAt: optionalDate(row.finished_at),
    createdBy: row.created_by,
  };
}

export function toTask(row: Selectable<TasksTable>, dependsOn: string[], keys: RecordKeys): Task {
  const owner = row.termination_id;
  return {
    id: row.id,
    terminationId: row.termination_id,
    stepId: row.step_id,
    provider: row.provider,
    action: row.action as Task['action'],
    params: openedJson(keys, owner, SEALED.params, row.params) ?? {},
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
    account: openedJson(keys, owner, SEALED.account, row.account),
    // Not sealed: a step's progress (pages, waits, overdue), read by the statistics in SQL terms.
    checkpoint: jsonObject(row.checkpoint),
    lastError: openedJson(keys, owner, SEALED.lastError, row.last_error) as Task['lastError'],
    evidence: openedJson(keys, owner, SEALED.evidence, row.evidence),
    startedAt: optionalDate(row.started_at),
    finishedAt: optionalDate(row.finished_at),
  };
}

export function toAttempt(row: Selectable<TaskAttemptsTable>, keys: RecordKeys): TaskAttempt {
  const owner = row.termination_id;
  return {
    taskId: row.task_id,
    attempt: row.attempt,
    worker: row.worker,
    startedAt: date(row.started_at),
    finishedAt: date(row.finished_at),
    outcome: row.outcome as TaskAttempt['outcome'],
    errorKind: row.error_kind,
    errorMessage: row.error_message === null ? null : (keys.open(owner, SEALED.attemptError, row.error_message) ?? ERASED),
    evidence: openedJson(keys, owner, SEALED.attemptEvidence, row.evidence),
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
    sealedData: null,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
