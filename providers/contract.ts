/**
 * The adapter contract. Adapters hold provider logic only: no retries, no metrics,
 * no SQL. They throw the typed errors below; the engine decides what happens next.
 */
import type { Logger } from 'pino';
import type { ActionName, JsonObject, Organization, Subject } from '../src/domain/types.ts';

/**
 * The typed errors, for adapters: they import them from here, never from src/domain/ (the
 * contract is the one door between the two rooms; tests/import-graph.test.ts).
 */
export {
  DeprovisionError,
  RateLimitedError,
  TransientError,
  PermanentError,
  VerificationError,
  withCheckpoint,
} from '../src/domain/errors.ts';
/** A per-request timeout that survives garbage collection (Node 20's AbortSignal.timeout does not). */
export { deadlineSignal } from '../src/domain/abortable.ts';

/** The subject's account at one provider. `id` is the provider's own key for it. */
export interface AccountRef extends JsonObject {
  id: string;
}

/** Evidence is what was read or done, field by field: never a secret. */
export type Evidence = JsonObject;

export interface ActionContext {
  /** Aborted on shutdown or when the task's deadline passes. */
  signal: AbortSignal;
  logger: Logger;
  now: () => Date;
  /** The playbook step's params (e.g. `{ mode: 'suspend' }`). */
  params: JsonObject;
  subject: Subject;
  terminationId: string;
  /** The termination's effective time: until then the subject's service continues (messages say so). */
  effectiveAt: Date;
  /**
   * The task this attempt belongs to: the same for every retry of one task, distinct between
   * tasks (two notifications of one termination are two tasks). Pushes derive their
   * idempotency keys from it, so a receiver drops a retry's copy but not another task's message.
   */
  taskId: string;
  /** This attempt's number within the task, from 1: evidence can say which attempt found what. */
  attempt: number;
  /** When this attempt started: read-backs compare provider timestamps against it. */
  attemptStartedAt: Date;
  /**
   * Progress saved by an earlier `execute` that answered `inProgress`, or carried by the
   * typed error (`DeprovisionError.checkpoint`) of an earlier attempt that failed part-way
   * and was retried; null on the first call.
   */
  checkpoint: JsonObject | null;
}

export interface ExecuteResult {
  /** What was done (or found already done: say so with `alreadyDone: true`). */
  evidence: Evidence;
  /**
   * The action is asynchronous at the provider (e.g. a Drive transfer). The engine
   * stores `checkpoint`, frees the worker slot and calls `execute` again after
   * `checkAfterMs` with the checkpoint in `ctx.checkpoint`; `verify` runs only once
   * `execute` returns without `inProgress`. A `waitingFor` text in the checkpoint says what
   * the step waits for ("overdue: 2 invoices open…"); the console, the CLI and the evidence
   * show it beside the task (src/domain/waiting.ts).
   */
  inProgress?: { checkAfterMs: number; checkpoint: JsonObject };
  /** Nothing to do at this provider for this subject (e.g. a dynamic group). */
  skipped?: string;
}

export interface ActionHandler {
  /** Idempotent: a state already reached is success, with evidence saying so. */
  execute(account: AccountRef, ctx: ActionContext): Promise<ExecuteResult>;
  /** Reads the state back; returns what it read, or throws VerificationError. */
  verify(account: AccountRef, ctx: ActionContext): Promise<Evidence>;
}

/**
 * One person of a client organization at a provider, as `listMembers` found them: `account`
 * is what `resolve` would have returned for them (each member's tasks start from it, with no
 * look-up of their own); `email` and `login` name them in the evidence.
 */
export interface Member {
  account: AccountRef;
  email: string | null;
  login: string | null;
}

export interface Provider {
  /** The provider kind: `okta`, `google`, `microsoft`, `scim`, a badge system... */
  readonly kind: string;
  /** The instance name from config. */
  readonly name: string;
  /**
   * Finds the subject's account; null means the subject has none here (task `skipped`).
   * The engine shares one call among a termination's tasks at this provider and keeps an
   * account found for a minute (src/engine/shared-resolve.ts), so it must not depend on
   * the task or action in `ctx`.
   */
  resolve(subject: Subject, ctx: ActionContext): Promise<AccountRef | null>;
  readonly actions: Partial<Record<ActionName, ActionHandler>>;
  /**
   * The people of a client organization here (its tenant key at this provider, else the
   * email domains), page by page as the provider serves them: what an `expand_members` step
   * lists when it runs. Optional: a provider without it cannot take that step.
   */
  listMembers?(organization: Organization, ctx: ActionContext): AsyncIterable<Member>;
  /** Checks credentials and permissions at start-up; throws PermanentError when they are wrong. */
  validate?(ctx: { signal: AbortSignal; logger: Logger }): Promise<void>;
  close?(): Promise<void>;
}

/** Context handed to a provider factory: everything it needs, injected. */
export interface ProviderFactoryContext {
  name: string;
  logger: Logger;
  /** When the provider runs against its sandbox, the sandbox's base URL. */
  sandboxUrl?: string;
  /**
   * Await before every HTTP request to the provider: the configured request rate limit
   * (`limits.requestsPerSecond`), then the lease fence, which throws (a TransientError)
   * when the task's lease is ending or gone, so the request is never sent.
   */
  throttle?: (signal?: AbortSignal) => Promise<void>;
}
