/**
 * Where a task attempt's provider requests run. The engine decides what to run and records
 * each outcome; an AttemptRunner, which start-up hands it, carries out the resolve, execute
 * and verify: on the daemon's thread (src/startup/inline-attempts.ts) or on a worker thread
 * (src/startup/attempt-thread.ts), so the SDKs' and HTTP clients' CPU work uses a second
 * core beside intake and the store. The engine knows no provider module.
 */
import type { RetryPolicy } from '../config/schema.ts';
import type { JsonObject, Task, Termination } from '../domain/types.ts';
import type { LeaseWindow } from './lease-fence.ts';
import type { AttemptResult } from './runner.ts';

/** Everything an attempt needs besides the provider: plain data, so it can cross to a worker thread. */
export interface AttemptRequest {
  task: Task;
  termination: Termination;
  worker: string;
  policy: RetryPolicy;
  attemptTimeoutMs: number;
  /** The claim's lease as the engine counts it (see lease-fence.ts). */
  lease: LeaseWindow;
  /** `reverify`: only the action's read-back, against the task's account (reverify-run.ts). Default: a full attempt. */
  mode?: 'attempt' | 'reverify';
  /** `reverify`: when the attempt that proved the task started (DueReverification.provenAt). */
  provenAt?: Date | undefined;
}

/** What an attempt may ask of the engine while it runs (on the daemon's thread). */
export interface AttemptHooks {
  /**
   * Writes the account the attempt found onto the task, if the claim still holds it (false
   * when not). Awaited before a destructive action's writes, so the task's next holder knows
   * there was an account, whatever happens to this attempt.
   */
  recordAccount(account: JsonObject): Promise<boolean>;
}

export interface AttemptRunner {
  run(request: AttemptRequest, hooks: AttemptHooks): Promise<AttemptResult>;
  /**
   * The engine renewed a task's lease (`deadline`), or learnt it is gone (`null`): the
   * attempt's later requests are fenced by the new deadline, or it stops at once.
   */
  leaseChanged(taskId: string, deadline: number | null): void;
  /** Ends every attempt in flight (the shutdown grace is over); they report a transient error. */
  abort(): void;
  close(): Promise<void>;
}
