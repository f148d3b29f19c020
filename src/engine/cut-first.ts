/**
 * The cut first (issue 32). A termination is revoked when its critical tasks (sessions,
 * disable, badge) are verified; the steps beside them (the doors a disable leaves open,
 * clean-up) share the attempt thread, the host's CPU and the providers with them. Two rules
 * keep that work off the cut without losing or starving any of it:
 *
 * - **Critical first in a pass.** A pass starts its critical attempts before its other ones
 *   (each group longest first, attempt-durations.ts), and a provider gate whose queue is
 *   full starts a waiting critical attempt before a waiting other one.
 * - **Held while the cut runs.** A non-critical step that waits for another step (`after:` in
 *   the playbook, e.g. a door that works as well on a disabled account and so waits for the
 *   disable) is held, once claimed, while any critical attempt is in flight on this worker,
 *   and starts when the last one ends or after `holdMaxMs` from its claim, whichever comes
 *   first. A step that waits for nothing is never held: the playbook runs it beside the cut
 *   on purpose, often because it needs the live account (Google's backup codes, Gmail
 *   settings, device wipes), so it must start in the same pass as the disable. A step a
 *   critical step waits for is never held by that step either (that step is not in flight
 *   yet); at most it waits for the others in flight, bounded the same way.
 *
 * Held tasks keep their lease (the heartbeat renews it) and take no gate slot: a gate full of
 * doors waiting for another provider's cut would keep the next termination's cut from being
 * claimed there. On shutdown the held ones are handed back to the queue unrun (`drop`).
 */
import type { Task } from '../domain/types.ts';

/** Longest a step is held for the cut, from its claim: a door is delayed by at most this, never lost. */
export const HOLD_MAX_MS = 1_000;

/** Held for the cut when claimed while a critical attempt runs: not critical, and it waits for another step. */
export function holdsForCut(task: Pick<Task, 'critical' | 'dependsOn'>): boolean {
  return !task.critical && task.dependsOn.length > 0;
}

/** The order a pass starts its attempts in: critical ones first; stable, so each group keeps its given order. */
export function criticalFirst<T extends { task: Pick<Task, 'critical'> }>(items: T[]): T[] {
  return [...items.filter((item) => item.task.critical), ...items.filter((item) => !item.task.critical)];
}

interface Held {
  task: Task;
  resolve: (admitted: boolean) => void;
  timer: NodeJS.Timeout;
}

export class CutFirst {
  private inFlight = 0;
  private readonly held = new Map<string, Held>();

  constructor(private readonly holdMaxMs = HOLD_MAX_MS) {}

  /** Critical attempts claimed by this worker and not finished. */
  get criticalInFlight(): number {
    return this.inFlight;
  }

  /** Tasks held for the cut right now. */
  get holding(): number {
    return this.held.size;
  }

  /** A critical attempt was handed to its gate: held steps wait for it to end. */
  criticalStarted(): void {
    this.inFlight += 1;
  }

  /** A critical attempt ended (whatever its outcome): with none left, every held step starts. */
  criticalFinished(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (this.inFlight === 0) this.releaseAll();
  }

  /**
   * Null when the task may start now; otherwise a promise of true once it may (the cut's
   * attempts ended, or it was held `holdMaxMs`), or false when it was dropped on shutdown.
   * Synchronous for the common case, so the order a pass hands out its attempts is the
   * order they start in.
   */
  admit(task: Task): Promise<boolean> | null {
    if (!holdsForCut(task) || this.inFlight === 0 || this.held.has(task.id)) return null;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => this.release(task.id, true), this.holdMaxMs);
      timer.unref();
      this.held.set(task.id, { task, resolve, timer });
    });
  }

  /** Shutdown: the held tasks do not start; answers them so their leases can be given back. */
  drop(): Task[] {
    const tasks = [...this.held.values()].map((h) => h.task);
    for (const task of tasks) this.release(task.id, false);
    return tasks;
  }

  private releaseAll(): void {
    // In claim order (a Map keeps insertion order): the longest-held first.
    for (const id of [...this.held.keys()]) this.release(id, true);
  }

  private release(id: string, admitted: boolean): void {
    const held = this.held.get(id);
    if (!held) return;
    this.held.delete(id);
    clearTimeout(held.timer);
    held.resolve(admitted);
  }
}
