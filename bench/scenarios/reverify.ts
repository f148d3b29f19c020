/**
 * Re-verification beside live work (issue 30): the time to revoke of new terminations while
 * thousands of re-verifications are due, against the same terminations with none due, in
 * alternated rounds so that the host's drift moves both sides alike.
 *
 * Each side of a round is a fresh daemon with the time-to-revoke sandboxes and playbook
 * (25 ms per request). Both sides first complete the same terminations through SCIM, whose
 * scheduled re-verifications (1 h and later) are not due, so the store holds the same rows;
 * the loaded side then asks for every one of them to be read back now (`POST
 * /admin/v1/reverify`, what `deprovisiond reverify --since` sends), which makes every
 * verified task's re-verification due at once. Then the measured terminations run one after
 * another, as in the time-to-revoke scenario, at the daemon's default `reverify` limits.
 */
import type { SandboxKind } from '../../scripts/sandboxes.ts';
import { CRITICAL_STEPS, median, percentile, pool, round, startEnv } from '../lib/env.ts';
import { check, type ScenarioResult } from '../lib/result.ts';
import { TTR_DEFAULTS, revokedThroughScim } from './ttr.ts';

export interface ReverifyBenchOptions {
  /** Terminations measured per side and round, one after another. */
  terminations: number;
  /** At least this many re-verifications due on the loaded side (a whole number of terminations' worth). */
  reverificationsDue: number;
  /** Rounds of both sides; the side that goes first alternates. */
  pairs: number;
  latencyMs: number;
  kinds: SandboxKind[];
  /** Terminations in flight while completing the set whose tasks are read back. */
  setupConcurrency: number;
  perTerminationTimeoutMs: number;
}

export const REVERIFY_DEFAULTS: ReverifyBenchOptions = {
  terminations: 60,
  reverificationsDue: 2000,
  pairs: 3,
  latencyMs: TTR_DEFAULTS.latencyMs,
  kinds: TTR_DEFAULTS.kinds,
  setupConcurrency: 8,
  perTerminationTimeoutMs: TTR_DEFAULTS.perTerminationTimeoutMs,
};

/** The measured user numbers; the set completed first starts here so the two never meet. */
const SETUP_USER_BASE = 1_000_000;

interface Side {
  loaded: boolean;
  ttrP50Ms: number;
  ttrP95Ms: number;
  /** Re-verifications due and not done (pending or claimed) when the first measured termination was sent. */
  dueAtStart: number;
  /** Re-verifications recorded while the measured terminations ran: they competed for the daemon. */
  reverifiedDuring: number;
  dueAtEnd: number;
  setupS: number;
}

export async function runReverify(options: ReverifyBenchOptions): Promise<ScenarioResult> {
  const startedAt = new Date();
  const stepsPerTermination = options.kinds.flatMap((kind) => CRITICAL_STEPS[kind]).length;
  const setupTerminations = Math.ceil(options.reverificationsDue / stepsPerTermination);
  const sides: Side[] = [];
  for (let pair = 0; pair < options.pairs; pair += 1) {
    // Quiet first in even pairs, loaded first in odd ones.
    for (const loaded of pair % 2 === 0 ? [false, true] : [true, false]) sides.push(await runSide(options, setupTerminations, loaded));
  }
  const quiet = sides.filter((s) => !s.loaded);
  const loaded = sides.filter((s) => s.loaded);
  const p50 = (list: Side[]) => median(list.map((s) => s.ttrP50Ms));
  const p95 = (list: Side[]) => median(list.map((s) => s.ttrP95Ms));
  const ratioP50 = p50(loaded) / p50(quiet);
  const ratioP95 = p95(loaded) / p95(quiet);
  const fewestReverified = Math.min(...loaded.map((s) => s.reverifiedDuring));
  return {
    scenario: 'reverify',
    title: 'Time to revoke with re-verifications due',
    startedAt: startedAt.toISOString(),
    durationS: (Date.now() - startedAt.getTime()) / 1000,
    parameters: { ...options, setupTerminations },
    figures: {
      pairs: options.pairs,
      terminationsPerSide: options.terminations,
      ttrP50MsNoneDue: p50(quiet),
      ttrP50MsDue: p50(loaded),
      ratioP50: round(ratioP50, 3),
      ttrP95MsNoneDue: p95(quiet),
      ttrP95MsDue: p95(loaded),
      ratioP95: round(ratioP95, 3),
      reverificationsDueAtStart: median(loaded.map((s) => s.dueAtStart)),
      reverifiedDuringBurst: median(loaded.map((s) => s.reverifiedDuring)),
      reverificationsDueAtEnd: median(loaded.map((s) => s.dueAtEnd)),
      // In order of running: each round's two sides, the first side alternating.
      rounds: sides.map((s) => ({
        side: s.loaded ? 'due' : 'none due',
        p50: s.ttrP50Ms,
        p95: s.ttrP95Ms,
        dueAtStart: s.dueAtStart,
        reverified: s.reverifiedDuring,
        setupS: s.setupS,
      })),
    },
    targets: [
      check('p50 time to revoke, re-verifications due / none due', round(ratioP50, 3), 'x', '<=', 1.1),
      check('p95 time to revoke, re-verifications due / none due', round(ratioP95, 3), 'x', '<=', 1.2),
      check(
        're-verifications recorded during the measured terminations (fewest of the loaded rounds)',
        fewestReverified,
        '',
        '>=',
        1,
        '>= 1',
      ),
    ],
    notes: [
      `each side: a fresh daemon, ${setupTerminations} terminations completed first (${setupTerminations * stepsPerTermination} verified tasks), then ${options.terminations} measured one after another; the loaded side asks POST /admin/v1/reverify for all of them to be read back now before the first measured one`,
      `time to revoke = revoked_at - max(effective_at, requested_at) from the store; medians over ${options.pairs} rounds per side, the side going first alternating`,
      'reverifiedDuringBurst: re-verifications whose result was recorded between the first measured termination sent and the last revoked, at the default reverify limits (1 in flight, 1 started per second, per provider)',
    ],
  };
}

async function runSide(options: ReverifyBenchOptions, setupTerminations: number, loaded: boolean): Promise<Side> {
  const run = `rv${Date.now().toString(36)}`;
  const faults = Object.fromEntries(options.kinds.map((k) => [k, { latencyMs: options.latencyMs }]));
  const env = await startEnv({
    kinds: options.kinds,
    faults,
    adminRole: 'operator',
    // The same config on both sides; the on-demand request may name every completed termination.
    reverify: { maxOnDemand: Math.max(500, setupTerminations) },
  });
  try {
    const setupStart = Date.now();
    await pool(setupTerminations, options.setupConcurrency, (i) =>
      revokedThroughScim(env, run, SETUP_USER_BASE + i, options.perTerminationTimeoutMs),
    );
    const db = env.readStore();
    // Completed, not only revoked: completion is what schedules their re-verifications.
    const completed = db.prepare("SELECT count(*) AS n FROM terminations WHERE state = 'completed'");
    const deadline = Date.now() + 60_000;
    while ((completed.get() as { n: number }).n < setupTerminations) {
      if (Date.now() > deadline) throw new Error(`only ${(completed.get() as { n: number }).n} of ${setupTerminations} completed`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const setupS = round((Date.now() - setupStart) / 1000, 1);
    if (loaded) {
      // A window that holds every termination completed above (and nothing else exists).
      const since = `${Math.ceil((Date.now() - setupStart) / 1000) + 60}s`;
      const answer = (await env.adminPost('/reverify', { since })) as { terminations: number; queued: unknown[] };
      if (answer.terminations !== setupTerminations)
        throw new Error(`reverify queued ${answer.terminations} terminations, not ${setupTerminations}`);
    }
    // Claimed ones count: the reverifier may claim the first few before this look.
    const due = db.prepare("SELECT count(*) AS n FROM reverifications WHERE state != 'done' AND due_at <= ?");
    const dueAt = (at: number) => (due.get(at) as { n: number }).n;
    const t0 = Date.now();
    const dueAtStart = dueAt(t0);
    const ttrs: number[] = [];
    for (let i = 0; i < options.terminations; i += 1)
      ttrs.push((await revokedThroughScim(env, run, i, options.perTerminationTimeoutMs)).ttrMs);
    const t1 = Date.now();
    const reverifiedDuring = (
      db.prepare("SELECT count(*) AS n FROM reverifications WHERE state = 'done' AND finished_at BETWEEN ? AND ?").get(t0, t1) as {
        n: number;
      }
    ).n;
    ttrs.sort((a, b) => a - b);
    return {
      loaded,
      ttrP50Ms: percentile(ttrs, 50),
      ttrP95Ms: percentile(ttrs, 95),
      dueAtStart,
      reverifiedDuring,
      dueAtEnd: dueAt(t1),
      setupS,
    };
  } finally {
    await env.stop();
  }
}
