/**
 * GET /overview: what an operator looks at first, in one read. Counts come from the
 * store's statistics (the same the gauges export); time to revoke is measured over the
 * terminations revoked in the last 24 hours, the window the console shows.
 */
import type { Request, Response } from 'express';
import type { TerminationState } from '../domain/types.ts';
import { fromStore } from '../server/http-errors.ts';
import { durableRead } from '../store/store.ts';
import type { AdminDeps } from './deps.ts';

const WINDOW_MS = 24 * 3_600_000;
/** Not finished: still to run, running, or waiting for an operator (held, or with a failed task). */
const OPEN_STATES: readonly TerminationState[] = ['scheduled', 'held', 'running', 'failed'];

export interface Overview {
  generatedAt: string;
  openTerminations: number;
  terminationsByState: Partial<Record<TerminationState, number>>;
  heldTerminations: number;
  failedTasks: number;
  manualPending: number;
  manualOverdue: number;
  timeToRevoke: { since: string; count: number; p50Ms: number | null; p99Ms: number | null };
}

/** Nearest-rank percentile: a value that occurred, never an interpolation between two. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function getOverview(deps: AdminDeps) {
  return async (_req: Request, res: Response) => {
    const now = deps.now();
    const since = new Date(now.getTime() - WINDOW_MS);
    const [stats, times] = await fromStore(() =>
      durableRead(deps.store, () => Promise.all([deps.store.stats(now), deps.store.revokeTimes(since)])),
    );
    const byState = Object.fromEntries(stats.terminations.map((t) => [t.state, t.count])) as Overview['terminationsByState'];
    const sorted = [...times].sort((a, b) => a - b);
    const overview: Overview = {
      generatedAt: now.toISOString(),
      openTerminations: OPEN_STATES.reduce((sum, s) => sum + (byState[s] ?? 0), 0),
      terminationsByState: byState,
      heldTerminations: stats.heldTerminations,
      failedTasks: stats.tasks.filter((t) => t.state === 'failed').reduce((sum, t) => sum + t.count, 0),
      manualPending: stats.manualPending,
      manualOverdue: stats.manualOverdue,
      timeToRevoke: { since: since.toISOString(), count: sorted.length, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) },
    };
    res.json(overview);
  };
}
