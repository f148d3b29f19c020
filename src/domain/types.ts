/**
 * Core vocabulary of deprovisiond. Pure data: no I/O here.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** The person (or customer account) being offboarded. One identifier is enough. */
export interface Subject {
  externalId?: string;
  userName?: string;
  emails: string[];
  displayName?: string;
  /** The subject's manager, when the HRIS/IdP told us: used as the new owner of files. */
  manager?: { externalId?: string; userName?: string; email?: string };
}

export type TerminationSource = 'scim' | 'webhook' | 'admin';

export type TerminationState = 'scheduled' | 'held' | 'running' | 'completed' | 'failed' | 'cancelled';
/**
 * Not completed and not cancelled: a subject has at most one termination in these states
 * (a failed one still awaits replay), so a second delivery for it finds the first.
 */
export const UNRESOLVED_TERMINATION_STATES: readonly TerminationState[] = ['scheduled', 'held', 'running', 'failed'];

export type TaskState = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';
export const TERMINAL_TASK_STATES: readonly TaskState[] = ['succeeded', 'failed', 'skipped', 'cancelled'];

export const ACTIONS = [
  'revoke_sessions',
  'disable_account',
  'deactivate_badge',
  'remove_groups',
  'transfer_files',
  'wipe_devices',
  'delete_account',
  'manual',
  'notify',
] as const;
export type ActionName = (typeof ACTIONS)[number];

/** Actions that cut access: time to revoke ends when the last of these is verified. */
export const CRITICAL_ACTIONS: readonly ActionName[] = ['revoke_sessions', 'disable_account', 'deactivate_badge'];

export interface Termination {
  id: string;
  source: TerminationSource;
  /** Id of the delivery at its source (SCIM resource+op, webhook-id...): duplicates are answered from the store. */
  sourceEventId: string | null;
  /** Normalised identity key of the subject: at most one open termination per key. */
  subjectKey: string;
  subject: Subject;
  reason: string | null;
  playbook: string;
  state: TerminationState;
  requestedAt: Date;
  effectiveAt: Date;
  /** When the last critical task was verified; null until then. */
  revokedAt: Date | null;
  finishedAt: Date | null;
  createdBy: string;
}

export interface Task {
  id: string;
  terminationId: string;
  /** Step id from the playbook, unique within the termination. */
  stepId: string;
  /** Provider instance name from config (e.g. `okta`, `google-corp`). */
  provider: string;
  action: ActionName;
  params: JsonObject;
  critical: boolean;
  dependsOn: string[];
  notBefore: Date;
  state: TaskState;
  /**
   * Attempts that counted against the retry budget, the one running included: counted when
   * claimed, so an attempt that crashes its worker is counted too (rate-limit waits and
   * polls are given back).
   */
  attempts: number;
  rateLimitedCount: number;
  nextAttemptAt: Date;
  leaseOwner: string | null;
  /** The token of the claim that holds the task; a worker names it with every heartbeat and result. */
  leaseToken: string | null;
  leaseExpiresAt: Date | null;
  /** Account resolved at the provider, cached so later attempts do not look it up again. */
  account: JsonObject | null;
  /** Progress of a long-running action (e.g. a data transfer id) between polls. */
  checkpoint: JsonObject | null;
  lastError: { kind: string; message: string } | null;
  evidence: JsonObject | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** One run of a task by a worker: the history auditors read. */
export interface TaskAttempt {
  taskId: string;
  attempt: number;
  worker: string;
  startedAt: Date;
  finishedAt: Date;
  outcome: 'succeeded' | 'skipped' | 'in_progress' | 'retry' | 'failed';
  errorKind: string | null;
  errorMessage: string | null;
  evidence: JsonObject | null;
}
