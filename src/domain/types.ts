/**
 * Core vocabulary of deprovisiond. Pure data: no I/O here.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = Record<string, JsonValue>;

/** The person (or customer account) being offboarded. One identifier is enough. */
export interface Subject {
  externalId?: string;
  userName?: string;
  emails: string[];
  displayName?: string;
  /** The subject's manager, when the HRIS/IdP told us: used as the new owner of files. */
  manager?: { externalId?: string; userName?: string; email?: string };
  /**
   * A client account offboarded as a whole (issue 28): its people are found at each provider
   * when the termination runs (`expand_members`), not listed here.
   */
  organization?: Organization;
}

/** A client organization: our id for it, its email domains, and where providers group its people. */
export interface Organization {
  id: string;
  name?: string;
  /** Lower-case host names; a member's email address ends in `@` one of them. */
  domains: string[];
  /** The organization's own key at a provider: an Entra tenant, an Okta group (id or name), a SCIM app's organization value. */
  tenants?: { entra?: string; okta?: string; scim?: string };
  /** Who to tell at the client (notifications); listed people at its domains are offboarded all the same. */
  contacts?: string[];
}

export type TerminationSource = 'scim' | 'webhook' | 'admin';

/**
 * `failed`: nothing can run any more without an operator (no task pending, running or
 * waiting to retry, other than ones held back by a failure) and some task failed.
 * `completed_with_waivers`: every task settled, and an operator waived at least one failed
 * task: a state of its own so that no reader takes it for verified completion.
 */
export const TERMINATION_STATES = ['scheduled', 'held', 'running', 'completed', 'completed_with_waivers', 'failed', 'cancelled'] as const;
export type TerminationState = (typeof TERMINATION_STATES)[number];
/**
 * Not completed and not cancelled: a subject has at most one termination in these states
 * (a failed one still awaits replay), so a second delivery for it finds the first.
 */
export const UNRESOLVED_TERMINATION_STATES: readonly TerminationState[] = ['scheduled', 'held', 'running', 'failed'];

/** `waived`: failed, then settled by an operator with a reason (audited); never proof that access is gone. */
export const TASK_STATES = ['pending', 'running', 'succeeded', 'failed', 'skipped', 'waived', 'cancelled'] as const;
export type TaskState = (typeof TASK_STATES)[number];
export const TERMINAL_TASK_STATES: readonly TaskState[] = ['succeeded', 'failed', 'skipped', 'waived', 'cancelled'];
/** States that release a task's dependants and a destructive step at the same provider. */
export const SETTLED_TASK_STATES: readonly TaskState[] = ['succeeded', 'skipped', 'waived'];

export const ACTIONS = [
  'revoke_sessions',
  'disable_account',
  'deactivate_badge',
  'remove_groups',
  'transfer_files',
  'wipe_devices',
  // The doors left open after a disable (issue 32): ids operators and dashboards rely on.
  'reset_password',
  'remove_mfa',
  'clear_recovery',
  'stop_mail_forwarding',
  'revoke_public_links',
  'remove_admin_roles',
  'revoke_credentials',
  // A copy of the customer's data for them to download (issue 28): started, polled until ready.
  'export_data',
  // Customer offboarding (issue 28): billing ends, and what is owed is settled or refunded.
  'cancel_subscriptions',
  'settle_billing',
  // An organization's members at a provider, listed when the step runs: each becomes tasks of its own (issue 28).
  'expand_members',
  'delete_account',
  'manual',
  'notify',
] as const;
export type ActionName = (typeof ACTIONS)[number];

/** Actions that cut access: time to revoke ends when the last of these is verified. */
export const CRITICAL_ACTIONS: readonly ActionName[] = ['revoke_sessions', 'disable_account', 'deactivate_badge'];

/**
 * Actions that cannot be undone and end what the other actions at the provider work on
 * (a deleted user can no longer be suspended, signed out or handed over). A rule of the
 * engine, whatever a playbook's `after` lists say: such a step at a provider runs only
 * once every other task of its termination at that provider has settled (invariant 9).
 */
export const DESTRUCTIVE_ACTIONS: readonly ActionName[] = ['delete_account'];

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
