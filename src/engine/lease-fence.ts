/**
 * The provider fence. The store refuses a result from a worker that lost its lease, but
 * that is too late for the provider: a replica paused past its lease (a GC pause, a frozen
 * VM, SIGSTOP) and then resumed would still send its write while the task's new holder
 * sends the same one. So right before every provider request the attempt checks, by this
 * process's own clock, that its lease lasts at least a margin longer; when it does not,
 * the attempt stops without sending.
 *
 * The deadline is counted from the moment the claim (or the renewal) was sent, so it is
 * never later than the expiry the store set. The clock is monotonic and process-wide: the
 * same on the attempt worker thread, unmoved by wall-clock steps, and still running while
 * the process is stopped, which is exactly what makes a resumed process see that its time
 * is up.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { TransientError } from '../domain/errors.ts';

export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

/** Plain data, so it crosses to the attempt worker thread. */
export interface LeaseWindow {
  /** Monotonic milliseconds (`monotonicMs`) after which the claim may belong to someone else. */
  deadline: number;
  /** How much of the lease must be left to send a request (engine.leaseMargin). */
  marginMs: number;
  /** The store said the lease is gone (a renewal found another holder). */
  lost?: boolean;
}

/** The attempt stopped before a provider request because its lease was ending or gone. */
export class LeaseLostError extends TransientError {}

const running = new AsyncLocalStorage<LeaseWindow>();

/** Runs an attempt's provider calls under its lease window; `assertLeaseHeld` reads it. */
export function withinLease<T>(window: LeaseWindow, fn: () => Promise<T>): Promise<T> {
  return running.run(window, fn);
}

/** The lease window of the attempt running here, if any (captured where a callback will check it later). */
export function currentLease(): LeaseWindow | undefined {
  return running.getStore();
}

/**
 * Throws LeaseLostError unless the running attempt's lease lasts at least its margin past
 * now. Outside an attempt (start-up validation) there is no lease and nothing to check.
 */
export function assertLeaseHeld(window: LeaseWindow | undefined = running.getStore()): void {
  if (!window) return;
  if (window.lost) throw new LeaseLostError('the task was taken over by another worker: no request sent');
  const left = window.deadline - monotonicMs();
  if (left < window.marginMs) {
    throw new LeaseLostError(
      `the task's lease ends in ${Math.max(0, left)} ms, less than the ${window.marginMs} ms margin a request needs: no request sent`,
    );
  }
}
