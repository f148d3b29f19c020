/**
 * Where a task attempt's provider requests run. The engine decides what to run and records
 * each outcome; an AttemptRunner carries out the resolve, execute and verify. The inline
 * runner does it on the engine's thread; `attempt-thread.ts` does it on a worker thread, so
 * the SDKs' and HTTP clients' CPU work uses a second core beside intake and the store.
 */
import type { Logger } from 'pino';
import type { Provider } from '../../providers/contract.ts';
import type { RetryPolicy } from '../config/schema.ts';
import type { Task, Termination } from '../domain/types.ts';
import { LeaseLostError, type LeaseWindow } from './lease-fence.ts';
import { closeProviders } from './provider-setup.ts';
import { runAttempt, type AttemptResult } from './runner.ts';

/** Everything an attempt needs besides the provider: plain data, so it can cross to a worker thread. */
export interface AttemptRequest {
  task: Task;
  termination: Termination;
  worker: string;
  policy: RetryPolicy;
  attemptTimeoutMs: number;
  /** The claim's lease as the engine counts it (see lease-fence.ts). */
  lease: LeaseWindow;
}

export interface AttemptRunner {
  run(request: AttemptRequest): Promise<AttemptResult>;
  /**
   * The engine renewed a task's lease (`deadline`), or learnt it is gone (`null`): the
   * attempt's later requests are fenced by the new deadline, or it stops at once.
   */
  leaseChanged(taskId: string, deadline: number | null): void;
  /** Ends every attempt in flight (the shutdown grace is over); they report a transient error. */
  abort(): void;
  close(): Promise<void>;
}

/** The bindings every attempt's log lines carry, on either thread. */
function attemptLogger(logger: Logger, task: Task): Logger {
  return logger.child({ terminationId: task.terminationId, taskId: task.id, provider: task.provider, action: task.action });
}

/** Runs attempts on the calling thread, against provider instances it holds. */
export function inlineAttempts(providers: ReadonlyMap<string, Provider>, logger: Logger, now: () => Date = () => new Date()): AttemptRunner {
  const shutdown = new AbortController();
  const inFlight = new Map<string, { lease: LeaseWindow; lost: AbortController }>();
  return {
    async run(request) {
      const provider = providers.get(request.task.provider);
      if (!provider) throw new Error(`task ${request.task.id} refers to provider ${request.task.provider}, which is not configured`);
      const lease = { ...request.lease };
      const lost = new AbortController();
      inFlight.set(request.task.id, { lease, lost });
      try {
        const signal = AbortSignal.any([shutdown.signal, lost.signal]);
        return await runAttempt({ ...request, lease, provider, signal, logger: attemptLogger(logger, request.task), now });
      } finally {
        inFlight.delete(request.task.id);
      }
    },
    leaseChanged(taskId, deadline) {
      const attempt = inFlight.get(taskId);
      if (!attempt) return;
      if (deadline !== null) {
        attempt.lease.deadline = deadline;
        return;
      }
      attempt.lease.lost = true;
      attempt.lost.abort(new LeaseLostError('the task was taken over by another worker: attempt stopped'));
    },
    abort: () => shutdown.abort(new Error('shutdown')),
    close: () => closeProviders(providers),
  };
}
