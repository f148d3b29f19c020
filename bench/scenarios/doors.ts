/**
 * The doors beside the cut (issue 32): the time to revoke with the door steps in the
 * playbook (reset_password, remove_mfa, clear_recovery, stop_mail_forwarding, wipe_devices,
 * revoke_public_links, remove_admin_roles at Okta, Google and Microsoft, as
 * config/sandbox.yaml's employee playbook runs them: not critical, beside the cut) against
 * the critical steps alone, in alternated rounds so that the host's drift moves both sides
 * alike.
 *
 * Each side of a round is a fresh daemon with the time-to-revoke sandboxes (25 ms per
 * request) and its playbook; its terminations run one after another, each sent once the
 * previous one is revoked, so a termination's door steps still run while the next one's
 * cut starts, as they would in a day of leavers.
 */
import type { SandboxKind } from '../../scripts/sandboxes.ts';
import { benchSteps, median, percentile, round, startEnv } from '../lib/env.ts';
import { check, type ScenarioResult } from '../lib/result.ts';
import { TTR_DEFAULTS, revokedThroughScim } from './ttr.ts';

export interface DoorsBenchOptions {
  /** Terminations measured per side and round, one after another. */
  terminations: number;
  /** Terminations before the measured ones on each side, not counted. */
  warmup: number;
  /** Rounds of both sides; the side that goes first alternates. */
  pairs: number;
  latencyMs: number;
  kinds: SandboxKind[];
  perTerminationTimeoutMs: number;
}

export const DOORS_DEFAULTS: DoorsBenchOptions = {
  terminations: 60,
  warmup: TTR_DEFAULTS.warmup,
  pairs: 3,
  latencyMs: TTR_DEFAULTS.latencyMs,
  kinds: TTR_DEFAULTS.kinds,
  perTerminationTimeoutMs: TTR_DEFAULTS.perTerminationTimeoutMs,
};

interface Side {
  doors: boolean;
  ttrP50Ms: number;
  ttrP95Ms: number;
  /** Median per measured termination: its non-critical tasks whose first attempt started before it was revoked (they competed with the cut). */
  doorsStartedBeforeRevoked: number;
  /** Non-critical tasks of the side that ended other than succeeded (the comparison is void if they failed). */
  doorTasksNotSucceeded: number;
}

export async function runDoors(options: DoorsBenchOptions): Promise<ScenarioResult> {
  const startedAt = new Date();
  const doorSteps = benchSteps(options.kinds, true).length - benchSteps(options.kinds).length;
  const sides: Side[] = [];
  for (let pair = 0; pair < options.pairs; pair += 1) {
    // Without first in even pairs, with first in odd ones.
    for (const doors of pair % 2 === 0 ? [false, true] : [true, false]) sides.push(await runSide(options, doors));
  }
  const without = sides.filter((s) => !s.doors);
  const withDoors = sides.filter((s) => s.doors);
  const p50 = (list: Side[]) => median(list.map((s) => s.ttrP50Ms));
  const p95 = (list: Side[]) => median(list.map((s) => s.ttrP95Ms));
  const ratioP50 = p50(withDoors) / p50(without);
  const ratioP95 = p95(withDoors) / p95(without);
  return {
    scenario: 'doors',
    title: 'Time to revoke with the door steps beside the cut',
    startedAt: startedAt.toISOString(),
    durationS: (Date.now() - startedAt.getTime()) / 1000,
    parameters: { ...options, doorSteps },
    figures: {
      pairs: options.pairs,
      terminationsPerSide: options.terminations,
      doorStepsPerTermination: doorSteps,
      ttrP50MsWithout: p50(without),
      ttrP50MsWithDoors: p50(withDoors),
      ratioP50: round(ratioP50, 3),
      ttrP95MsWithout: p95(without),
      ttrP95MsWithDoors: p95(withDoors),
      ratioP95: round(ratioP95, 3),
      doorsStartedBeforeRevoked: median(withDoors.map((s) => s.doorsStartedBeforeRevoked)),
      doorTasksNotSucceeded: withDoors.reduce((sum, s) => sum + s.doorTasksNotSucceeded, 0),
      // In order of running: each round's two sides, the first side alternating.
      rounds: sides.map((s) => ({ side: s.doors ? 'doors' : 'cut only', p50: s.ttrP50Ms, p95: s.ttrP95Ms })),
    },
    targets: [
      check('p50 time to revoke, with doors / cut only', round(ratioP50, 3), 'x', '<=', 1.1),
      check(
        'door tasks that did not succeed',
        withDoors.reduce((sum, s) => sum + s.doorTasksNotSucceeded, 0),
        '',
        '<=',
        0,
        '0',
      ),
    ],
    notes: [
      `each side: a fresh daemon; ${options.warmup} warm-up terminations, then ${options.terminations} measured one after another; the doors side's playbook adds ${doorSteps} non-critical steps (bench/lib/env.ts DOOR_STEPS, in config/sandbox.yaml's order)`,
      `time to revoke = revoked_at - max(effective_at, requested_at) from the store; medians over ${options.pairs} rounds per side, the side going first alternating`,
      'doorsStartedBeforeRevoked: median per termination of its non-critical tasks whose first attempt started before its revocation was verified (they competed with the cut); a step claimed and held by the engine while the cut runs is not counted until its attempt starts',
    ],
  };
}

async function runSide(options: DoorsBenchOptions, doors: boolean): Promise<Side> {
  const run = `dr${Date.now().toString(36)}`;
  const faults = Object.fromEntries(options.kinds.map((k) => [k, { latencyMs: options.latencyMs }]));
  const env = await startEnv({ kinds: options.kinds, faults, steps: benchSteps(options.kinds, doors) });
  try {
    for (let i = 0; i < options.warmup; i += 1) await revokedThroughScim(env, run, -1 - i, options.perTerminationTimeoutMs);
    const measured: Array<{ id: string; ttrMs: number }> = [];
    for (let i = 0; i < options.terminations; i += 1) measured.push(await revokedThroughScim(env, run, i, options.perTerminationTimeoutMs));
    const db = env.readStore();
    // Started = its first attempt's start (task_attempts), not its claim (tasks.started_at):
    // the engine may hold a claimed step while the cut runs (src/engine/cut-first.ts).
    const startedBefore = db.prepare(
      'SELECT count(*) AS n FROM tasks t JOIN terminations r ON r.id = t.termination_id WHERE r.id = ? AND t.critical = 0 AND (SELECT min(a.started_at) FROM task_attempts a WHERE a.task_id = t.id) <= r.revoked_at',
    );
    // The last door steps may still run: wait (bounded) for them before counting what did not succeed.
    const open = db.prepare("SELECT count(*) AS n FROM tasks WHERE critical = 0 AND state IN ('pending', 'running')");
    const deadline = Date.now() + 30_000;
    while ((open.get() as { n: number }).n > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const notSucceeded = db.prepare("SELECT count(*) AS n FROM tasks WHERE critical = 0 AND state != 'succeeded'").get() as { n: number };
    const ttrs = measured.map((m) => m.ttrMs).sort((a, b) => a - b);
    return {
      doors,
      ttrP50Ms: percentile(ttrs, 50),
      ttrP95Ms: percentile(ttrs, 95),
      doorsStartedBeforeRevoked: median(measured.map((m) => (startedBefore.get(m.id) as { n: number }).n)),
      doorTasksNotSucceeded: notSucceeded.n,
    };
  } finally {
    await env.stop();
  }
}
