/**
 * Attempts on the calling thread, against provider instances it holds: the daemon's thread
 * when `engine.providerThread` is off, and the attempt worker thread itself.
 */
import type { Logger } from 'pino';
import type { Provider } from '../../providers/contract.ts';
import type { Task } from '../domain/types.ts';
import type { AttemptRunner } from '../engine/attempts.ts';
import { LeaseLostError, type LeaseWindow } from '../engine/lease-fence.ts';
import { runAttempt } from '../engine/runner.ts';
import { closeProviders } from './provider-setup.ts';

/** The bindings every attempt's log lines carry, on either thread. */
function attemptLogger(logger: Logger, task: Task): Logger {
  return logger.child({ terminationId: task.terminationId, taskId: task.id, provider: task.provider, action: task.action });
}

/** Runs attempts on the calling thread, against provider instances it holds. */
export function inlineAttempts(
  providers: ReadonlyMap<string, Provider>,
  logger: Logger,
  now: () => Date = () => new Date(),
): AttemptRunner {
  const shutdown = new AbortController();
  const inFlight = new Map<string, { lease: LeaseWindow; lost: AbortController }>();
  return {
    async run(request, hooks) {
      const provider = providers.get(request.task.provider);
      if (!provider) throw new Error(`task ${request.task.id} refers to provider ${request.task.provider}, which is not configured`);
      const lease = { ...request.lease };
      const lost = new AbortController();
      inFlight.set(request.task.id, { lease, lost });
      try {
        const signal = AbortSignal.any([shutdown.signal, lost.signal]);
        return await runAttempt({ ...request, lease, hooks, provider, signal, logger: attemptLogger(logger, request.task), now });
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
