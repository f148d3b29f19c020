/**
 * One gate per provider instance: bounds tasks in flight and tasks started per second
 * (p-queue), and pauses the whole provider when it answers "rate limited", so a mass
 * termination waits for the reset instead of bouncing off 429s task by task.
 */
import PQueue from 'p-queue';

export interface GateLimits {
  concurrency: number;
  tasksPerSecond?: number | undefined;
}

export class ProviderGate {
  private readonly queue: PQueue;
  private readonly held = new Set<string>();
  private pausedUntil = 0;
  private resumeTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly name: string,
    private readonly limits: GateLimits,
    private readonly onResume: () => void,
    private readonly now: () => number = Date.now,
  ) {
    const rate = limits.tasksPerSecond;
    this.queue = new PQueue({
      concurrency: limits.concurrency,
      ...(rate ? { intervalCap: Math.max(1, Math.round(rate)), interval: 1000 } : {}),
    });
  }

  /** How many more tasks this worker should claim for the provider right now. */
  capacity(): number {
    if (this.now() < this.pausedUntil) return 0;
    return Math.max(0, this.limits.concurrency - this.held.size);
  }

  get depth(): number {
    return this.held.size;
  }

  /**
   * Runs `work` within the limits. `critical` work queued behind a full gate (or a rate
   * interval) starts before the other queued work, in the order each was handed in
   * (cut-first.ts).
   */
  run(taskId: string, work: () => Promise<void>, critical = false): Promise<void> {
    this.held.add(taskId);
    return this.queue.add(work, { priority: critical ? 1 : 0 }).finally(() => this.held.delete(taskId));
  }

  /** The provider asked us to wait: stop starting its tasks until then. */
  pause(retryAfterMs: number): void {
    const until = this.now() + retryAfterMs;
    if (until <= this.pausedUntil) return;
    this.pausedUntil = until;
    this.queue.pause();
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = null;
      // A timer may fire a millisecond before Date.now() reaches `until`: without this the
      // scheduling pass it triggers would still see the gate closed and sleep for good.
      this.pausedUntil = 0;
      this.queue.start();
      this.onResume();
    }, retryAfterMs);
    this.resumeTimer.unref();
  }

  /** Resolves when every task handed to the gate has finished. */
  async drained(): Promise<void> {
    this.queue.start();
    await this.queue.onIdle();
  }

  close(): void {
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
  }
}
