/**
 * How long a successful attempt of each provider action usually takes, so that a scheduling
 * pass can start the longest first. A termination is revoked when its slowest critical task
 * is verified; the attempts of a pass share one thread (the attempt worker) and the
 * providers answer in the order they were asked, so an attempt started last has its
 * responses handled last in every round of requests. Starting the longest chain first
 * (critical path first) keeps the other attempts' CPU work off it; the shorter ones have
 * the slack to wait.
 */

/** Weight of the newest duration in the moving average: follows a provider that slows down within a few attempts. */
const WEIGHT = 0.2;

const keyOf = (provider: string, action: string) => `${provider}\u0000${action}`;

export class AttemptDurations {
  private readonly means = new Map<string, number>();

  /** Records a successful attempt's wall time (resolve, execute and read-back). */
  record(provider: string, action: string, ms: number): void {
    const key = keyOf(provider, action);
    const mean = this.means.get(key);
    this.means.set(key, mean === undefined ? ms : mean + WEIGHT * (ms - mean));
  }

  /** The expected wall time; 0 for an action not seen yet (those keep the order they were claimed in). */
  expected(provider: string, action: string): number {
    return this.means.get(keyOf(provider, action)) ?? 0;
  }

  /** The items in descending order of expected duration; stable, so ties keep their order. */
  longestFirst<T extends { task: { provider: string; action: string } }>(items: T[]): T[] {
    return items
      .map((item) => ({ item, ms: this.expected(item.task.provider, item.task.action) }))
      .sort((a, b) => b.ms - a.ms)
      .map(({ item }) => item);
  }
}
