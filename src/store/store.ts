/**
 * The Store: every durable read and write of deprovisiond, named for intent, in one
 * interface per concern. The engine depends on `TaskQueue` alone; intake on
 * `TerminationRecords`; the admin API on those and `TaskOperations`, `ReadModel` and
 * `AuditLog`. Nobody outside src/store sees SQL. One implementation (src/store/sql/, over
 * Kysely) serves SQLite (embedded default) and PostgreSQL (several replicas).
 */
import type { Expansion } from '../domain/members.ts';
import type {
  JsonObject,
  Subject,
  Task,
  TaskAttempt,
  TaskState,
  Termination,
  TerminationSource,
  TerminationState,
} from '../domain/types.ts';
import type { SubjectDirectory } from './directory.ts';
import type { GroupDirectory } from './directory-groups.ts';
import type { WebhookDeliveryStore } from './webhook-deliveries.ts';
import type { LegalHoldStore } from './legal-hold-store.ts';
import type { ReverificationQueue } from './reverification-queue.ts';
import type { ErasureStore } from './erasure-store.ts';

export type { HeldTask, LegalHoldStore, PlacedHold } from './legal-hold-store.ts';
export type { ErasureStore, KeepPersonalData, NewErasureRequest, RetentionOutcome } from './erasure-store.ts';
export type {
  BulkReverifyResult,
  DueReverification,
  ReverificationQueue,
  ReverifyClaimRequest,
  ReverifyResult,
} from './reverification-queue.ts';

export interface NewTermination {
  id: string;
  source: TerminationSource;
  sourceEventId: string | null;
  subjectKey: string;
  subject: Subject;
  reason: string | null;
  playbook: string;
  /** `scheduled` (the default path) or `held` (blast-radius brake). */
  state: 'scheduled' | 'held';
  requestedAt: Date;
  effectiveAt: Date;
  createdBy: string;
}

export interface NewTask {
  id: string;
  stepId: string;
  provider: string;
  action: Task['action'];
  params: JsonObject;
  critical: boolean;
  /** Step ids of the same termination that must succeed (or be skipped) first. */
  dependsOn: string[];
  notBefore: Date;
  /** The account the task acts on, known at creation (a member found by an expansion): no look-up. */
  account?: JsonObject;
}

/** Options of one creation: the blast-radius brake and what to tell people when it holds. */
export interface CreateOptions {
  /** Hold the new termination when `max` or more were requested since `since` (counted in the transaction). */
  brake?: { max: number; since: Date };
  /** Tasks added only when the brake holds the termination (a notification): the only ones that run while it is held. */
  onHeld?: NewTask[];
  /** How the request meets an open termination of the same subject (see `createTermination`). */
  request?: RequestOptions;
}

export interface RequestOptions {
  /**
   * The caller named the playbook. A request that names none (SCIM, or a body without
   * `playbook`) takes whatever the open termination runs; a named different playbook is a
   * conflict. Default true.
   */
  playbookNamed?: boolean;
  /** SHA-256 of the canonical request body: a repeat of the source event id with another body is refused. */
  bodySha256?: string | null;
  /** An operator replaces the open termination: its unrun tasks are cancelled and this one is created. */
  supersede?: boolean;
}

/**
 * What a request did. `created`: a new termination (no open one). `superseded`: a new one
 * replaced the open one (operator). `rescheduled`: the open one was brought forward to this
 * request's earlier effective time. `joined`: the open one already covers this request
 * (same playbook, later or equal time); nothing moved.
 */
export type CreateOutcome = 'created' | 'superseded' | 'rescheduled' | 'joined';

export interface CreateTerminationResult {
  termination: Termination;
  /** True when this request wrote a new termination (`created` or `superseded`). */
  created: boolean;
  /** What the request did; for a repeat, what its first delivery did. */
  outcome: CreateOutcome;
  /** A true repeat (same source event id, same body): the earlier answer, nothing changed. */
  duplicate: boolean;
  /** `rescheduled`: the effective time it had before. */
  previousEffectiveAt?: Date;
  /** `superseded`: the termination this one replaced. */
  supersededId?: string;
}

/** Who asks for a cancellation, when not an operator: a channel may cancel only what the channels in `mayCancel` asked for. */
export interface CancelAuthority {
  channel: TerminationSource;
  mayCancel: readonly TerminationSource[];
}

/** A claim a worker holds: the task and the token its claim was given. */
export type LeaseRef = Pick<Task, 'id' | 'leaseToken'>;

export interface ClaimRequest {
  worker: string;
  provider: string;
  now: Date;
  leaseMs: number;
  limit: number;
}

/** What a worker reports at the end of one attempt. */
export type AttemptOutcome =
  | {
      state: 'succeeded' | 'skipped';
      evidence: JsonObject;
      account: JsonObject | null;
      /** An organization's members listed (expand_members): their tasks are created with this result. */
      expansion?: Expansion;
    }
  | {
      state: 'failed';
      error: { kind: string; message: string };
      evidence?: JsonObject | null;
      /** Tasks to add to the termination with the failure (e.g. telling the security team). */
      followUp?: NewTask[];
    }
  | {
      /** Back to the queue: a retry after an error, or the next poll of a long-running action. */
      state: 'pending';
      nextAttemptAt: Date;
      error: { kind: string; message: string } | null;
      /** False for rate-limit waits and polls: they do not use up the retry budget. */
      countsAsAttempt: boolean;
      rateLimited: boolean;
      checkpoint: JsonObject | null;
      account: JsonObject | null;
      /**
       * The step has just become overdue (its adapter's checkpoint says `overdue: true`, the
       * previous one did not): audited `task.overdue`, with what it waits for.
       */
      becameOverdue?: { waitingFor: string | null };
      /** Tasks to add with it (telling the playbook's onFailure channel). */
      followUp?: NewTask[];
    };

export interface TerminationFilter {
  state?: TerminationState;
  /** Only terminations with a task that is `failed` now (whatever the termination's state: it may still be running). */
  withFailedTasks?: boolean;
  subjectKey?: string;
  /** Any of these subject keys (a raw identifier could have formed any of them). */
  subjectKeys?: string[];
  /** Requested at or after. */
  since?: Date;
  /** Requested before. */
  until?: Date;
  /** Only terminations that came in through this channel first (`source`). */
  source?: TerminationSource;
  /**
   * Text found, ignoring ASCII case, in the subject's user name, external id, display name
   * or an email, or in the termination id. Taken literally: `%` and `_` match themselves.
   */
  search?: string;
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface StoreStats {
  tasks: Array<{ provider: string; action: string; state: TaskState; count: number }>;
  terminations: Array<{ state: TerminationState; count: number }>;
  /** Age of the oldest task that is due, runnable and not yet claimed; 0 when none. */
  oldestDueTaskAgeSeconds: number;
  /** Tasks whose termination is `held`, waiting for an operator. */
  heldTerminations: number;
  /** Manual steps waiting for a person, and those past their `dueWithin`. */
  manualPending: number;
  manualOverdue: number;
  /** Legal holds not yet released. */
  legalHoldsActive: number;
  /** Pending destructive tasks a legal hold keeps from running, per provider and action. */
  heldByLegalHold: Array<{ provider: string; action: string; count: number }>;
  /**
   * Pending steps whose adapter reported them overdue (`overdue: true` in the checkpoint of an
   * `inProgress` answer: Stripe's settle_billing past its `overdueAfter`), per provider and action.
   */
  waitingOverdue: Array<{ provider: string; action: string; count: number }>;
}

export interface AuditEntry {
  /** The entry's id, in insert order. On PostgreSQL not commit order: the chain follows `position`. */
  seq: number;
  /** Place in the chain, given by the linker moments after the entry commits; null until then. */
  position: number | null;
  at: Date;
  actor: string;
  action: string;
  terminationId: string | null;
  taskId: string | null;
  /** The entry's data, opened when it was sealed (`{ erased: true }` once its record is erased). */
  data: JsonObject;
  /** The data as stored and chained, when it is sealed under a record's key; null when `data` is what was stored. */
  sealedData: string | null;
  /** Null until linked. */
  prevHash: string | null;
  /** SHA-256 over the previous hash and this entry's fields; null until linked. */
  hash: string | null;
}

export interface NewAuditEntry {
  actor: string;
  action: string;
  terminationId?: string | null;
  taskId?: string | null;
  data?: JsonObject;
  /**
   * The record whose data key seals `data` (src/store/sql/personal-data.ts): by default the
   * termination's; a legal hold's entries name the hold; null stores the data as given (an
   * entry that holds no personal data, such as the record of an erasure). The entry is
   * chained as sealed, so erasing the record leaves the chain whole. Data of a record with
   * no key (erased) is stored as given too, and must then hold no personal data.
   */
  sealWith?: string | null;
}

/** Terminations as intake and operators create and end them. */
export interface TerminationRecords {
  /**
   * One rule for a request, in one transaction. A repeat of a source event id is answered
   * with its first outcome (`duplicate`), or refused (`ReusedRequestIdError`) when the
   * body hash differs. Without an open termination for the subject: writes the
   * termination and all its tasks. With one: `supersede` cancels it and writes the new
   * one; a named different playbook is refused (`OpenTerminationConflictError`); an
   * earlier effective time brings it forward (pending tasks move by the same amount, never
   * later, audited `termination.rescheduled`); otherwise the request joins it (audited
   * `termination.joined`). Nothing is written when it throws.
   */
  createTermination(termination: NewTermination, tasks: NewTask[], options?: CreateOptions): Promise<CreateTerminationResult>;
  /**
   * Cancels an open termination and every task not yet run. Null when not found. With an
   * `authority` (a channel, not an operator), refuses with `CancellationRefusedError`,
   * audited as `termination.cancel_refused`, unless every channel that asked for the
   * termination is in `authority.mayCancel`.
   */
  cancelTermination(id: string, actor: string, reason: string, authority?: CancelAuthority): Promise<Termination | null>;
  /** Releases a held termination to run. Null when not found or not held. */
  approveTermination(id: string, actor: string): Promise<Termination | null>;
  /** The open termination for a subject, if any. */
  findOpenTermination(subjectKey: string): Promise<Termination | null>;
}

/** What workers do: claim due tasks with leases, renew them, record each attempt. */
/** What a heartbeat found: see TaskQueue.renewLeases. */
export interface LeaseRenewal {
  renewed: string[];
  busy: string[];
}

export interface TaskQueue {
  /** Called after any write that may make a task due, here or (PostgreSQL) on another replica. */
  onWake(listener: () => void): () => void;
  /** Leases up to `limit` due tasks of one provider: pending ones, and running ones whose lease expired. */
  claimDueTasks(request: ClaimRequest): Promise<Task[]>;
  /** The terminations of claimed tasks, by id (missing ones absent): one query for a batch. */
  getTerminations(ids: readonly string[]): Promise<Map<string, Termination>>;
  /** The earliest moment a task (of these providers, if given) may become claimable, or null when nothing is waiting. */
  nextWakeAt(providers?: string[]): Promise<Date | null>;
  /**
   * Extends the leases still held to `leaseMs` from now. `renewed`: extended; `busy`: still
   * held, but their rows were locked by another transaction (a settlement, or a peer frozen
   * inside one), so not extended this time and not waited for; the rest were lost.
   */
  renewLeases(worker: string, leases: LeaseRef[], leaseMs: number): Promise<LeaseRenewal>;
  /**
   * Records one attempt; false when the claim's token no longer holds the lease (its result
   * is discarded: only the attempt record is kept).
   */
  finishAttempt(worker: string, lease: LeaseRef, outcome: AttemptOutcome, attempt: TaskAttempt): Promise<boolean>;
  /** Gives leased tasks back without using an attempt (graceful shutdown). */
  releaseTasks(worker: string, leases: LeaseRef[]): Promise<void>;
  /** Writes the account an attempt found onto its task while the claim still holds it; false when it does not. */
  recordAccount(lease: LeaseRef, account: JsonObject): Promise<boolean>;
}

/** What operators do to single tasks. */
export interface TaskOperations {
  /**
   * A person finished a manual checklist step (`done`), or it does not apply
   * (`not_applicable`, skipped with the reason). Null when the task is not a pending manual task.
   */
  completeManualTask(taskId: string, actor: string, outcome: 'done' | 'not_applicable', reason: string): Promise<Task | null>;
  /** Puts failed tasks back in the queue with a fresh retry budget. Returns the tasks replayed. */
  replayFailedTasks(terminationId: string, taskId: string | null, actor: string): Promise<Task[]>;
  /**
   * Settles a failed task without running it (`waived`), audited with the actor and reason;
   * its dependants and its provider's destructive step may then run. Null when the task is
   * not a failed task of that termination, or the termination was cancelled.
   */
  waiveTask(terminationId: string, taskId: string, actor: string, reason: string): Promise<WaiveResult | null>;
}

export interface WaiveResult {
  task: Task;
  /** The termination as the waiver left it (it may have finished: `completed_with_waivers` or `failed`). */
  termination: Termination;
}

/** Reads for the admin API, the CLI, evidence and metrics. */
export interface ReadModel {
  getTermination(id: string): Promise<Termination | null>;
  getTerminations(ids: readonly string[]): Promise<Map<string, Termination>>;
  listTerminations(filter: TerminationFilter): Promise<{ items: Termination[]; nextCursor: string | null }>;
  listTasks(terminationId: string): Promise<Task[]>;
  getTask(id: string): Promise<Task | null>;
  listAttempts(terminationId: string): Promise<TaskAttempt[]>;
  stats(now: Date): Promise<StoreStats>;
  /** Time to revoke (ms, from effective time or receipt, if later) of every termination revoked at or after `since`. */
  revokeTimes(since: Date): Promise<number[]>;
}

/**
 * The hash-chained audit log. Entries are appended without a lock, in the transaction of
 * the change they record, and linked into the chain moments later by one linker at a time.
 */
export interface AuditLog {
  /** Appends one entry (its own transaction); it is linked moments later. */
  appendAudit(entry: NewAuditEntry): Promise<void>;
  /**
   * Linked entries after `afterPosition` (exclusive) in chain order; when the page has room,
   * followed by the entries not linked yet, in seq order. Page on with the last position.
   * Every entry committed before the call is in it (or past the page), even while the linker runs.
   */
  listAudit(afterPosition: number, limit: number): Promise<AuditEntry[]>;
  /** Every audit entry of one termination, in chain order, entries not linked yet last. */
  listAuditOf(terminationId: string): Promise<AuditEntry[]>;
  /** How many entries wait for the linker. */
  countUnlinkedAudit(): Promise<number>;
  /**
   * Links every entry committed before the call (waiting for another replica's linker if it
   * holds the chain) and resolves once the links are committed.
   */
  linkAudit(): Promise<{ linked: number }>;
  /** Links in the background from now until `close()`: shortly after each append, and on a slow timer. */
  startAuditLinker(): void;
  /**
   * Deletes the oldest linked audit entries written before `before`, as one prefix of the
   * chain, stopping at the first entry of a termination that is still open (its evidence is
   * not complete yet). Records the new anchor and an `audit.pruned` entry.
   */
  pruneAudit(before: Date, actor: string): Promise<{ pruned: number; throughPosition: number | null }>;
  /** Where the chain starts after pruning; null when nothing was ever pruned. */
  auditAnchor(): Promise<{ position: number; hash: string } | null>;
}

/** A read whose result decides an answer: resolved once what it saw is on disk (invariant 7). */
export async function durableRead<T>(store: Pick<Store, 'durable'>, read: () => Promise<T>): Promise<T> {
  const result = await read();
  await store.durable();
  return result;
}

export interface Store
  extends TerminationRecords, TaskQueue, TaskOperations, ReadModel, AuditLog, ReverificationQueue, LegalHoldStore, ErasureStore {
  readonly dialect: 'sqlite' | 'postgres';
  /** Webhook ids seen and the body each carried (replay protection at /webhooks). */
  readonly webhookDeliveries: WebhookDeliveryStore;
  /** The users SCIM clients push (the subject directory terminations are built from). */
  readonly directory: SubjectDirectory;
  /** The groups SCIM clients push, with their members (directory users). */
  readonly groups: GroupDirectory;
  /**
   * Resolves once everything a read could have seen is on disk (invariant 7). An answer
   * decided by reads alone awaits it after those reads: on SQLite a read can see a group's
   * writes before their COMMIT and WAL sync finished. Rejects when that commit or sync fails.
   */
  durable(): Promise<void>;
  /** Runs pending migrations; safe when several replicas start at once. */
  migrate(): Promise<void>;
  /** Writes and commits one row (readiness): rejects when the store cannot commit, e.g. on a full disk. */
  probeCommit(): Promise<void>;
  close(): Promise<void>;
  /** Called once, on the replica that committed it, when a termination's last critical task finishes. */
  onTerminationRevoked(listener: (event: { terminationId: string; timeToRevokeMs: number }) => void): () => void;
}
