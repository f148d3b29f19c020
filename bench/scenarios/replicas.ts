/**
 * Replicas: terminations settled per second by one, two and three `deprovisiond serve`
 * processes on one PostgreSQL schema (a fresh schema per size), with the Okta, Google and
 * Graph sandboxes in a process of their own and the frozen-peer test's playbook (seven
 * tasks per termination). A feeder keeps a backlog of tasks queued over signed webhooks,
 * so the rate measures the replicas, not the intake. With three replicas, one is then
 * stopped (SIGSTOP) for `freezeS` while one of its backends is idle inside a transaction
 * holding locks (issue 33), and the rate during the freeze is compared with the window
 * just before it: the target is at least half.
 *
 * Needs PostgreSQL: BENCH_DATABASE_URL, else TEST_DATABASE_URL. Not in the default set of
 * scenarios; run it with `npm run bench -- --scenario replicas`.
 */
import { randomBytes } from 'node:crypto';
import { FREEZE_RUN_STEPS } from '../../tests/helpers/freeze-run-playbook.ts';
import {
  BACKLOG_SQL,
  freezeInsideTransaction,
  settledBetween,
  startCluster,
  startFeeder,
  type Cluster,
} from '../../tests/helpers/replica-cluster.ts';
import { pollUntil } from '../../tests/helpers/poll.ts';
import { round } from '../lib/env.ts';
import { check, type ScenarioResult } from '../lib/result.ts';

export interface ReplicasOptions {
  /** Replica counts to measure, one cluster each. */
  sizes: number[];
  /** Length of each measured window (s). */
  windowS: number;
  /** How long the frozen replica stays stopped (s), with the largest size. */
  freezeS: number;
  leaseMs: number;
  /** Tasks the feeder keeps queued. */
  backlogTasks: number;
}

export const REPLICAS_DEFAULTS: ReplicasOptions = { sizes: [1, 2, 3], windowS: 10, freezeS: 6, leaseMs: 2_000, backlogTasks: 300 };

interface Window {
  terminationsPerS: number;
  tasksPerS: number;
  /** Tasks still queued at the window's end: 0 means the intake, not the replicas, set the rate. */
  backlogAtEnd: number;
}

async function measure(cluster: Cluster, from: number, to: number): Promise<Window> {
  const seconds = (to - from) / 1000;
  return {
    terminationsPerS: round((await settledBetween(cluster, from, to, 'terminations')) / seconds, 1),
    tasksPerS: round((await settledBetween(cluster, from, to)) / seconds, 1),
    backlogAtEnd: await cluster.count(BACKLOG_SQL),
  };
}

/** Waits `ms` while the cluster works: the measured window is a length of time, not a condition. */
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function runReplicas(options: ReplicasOptions): Promise<ScenarioResult> {
  const databaseUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (!databaseUrl) throw new Error('the replicas scenario needs PostgreSQL: set BENCH_DATABASE_URL (or TEST_DATABASE_URL)');
  const startedAt = new Date();
  const windows: Record<string, Window> = {};
  let freeze: { before: Window; during: Window; lockHolder: string } | null = null;
  for (const size of options.sizes) {
    const schema = `bench_replicas_${size}_${randomBytes(4).toString('hex')}`;
    const cluster = await startCluster({ databaseUrl, schema, replicas: size, leaseMs: options.leaseMs, steps: FREEZE_RUN_STEPS });
    const run = randomBytes(3).toString('hex');
    const deadline = Date.now() + (2 * options.windowS + options.freezeS) * 1000 + 120_000;
    const feeder = startFeeder(cluster, {
      prefix: `bench-${size}-${run}`,
      via: () => cluster.replicas,
      backlogTasks: options.backlogTasks,
      tasksPerTermination: FREEZE_RUN_STEPS.length,
      maxTerminations: 100_000,
      deadline,
    });
    try {
      // Warm-up: the first terminations have gone through every provider.
      await pollUntil(
        async () => (await settledBetween(cluster, 0, Date.now() + 1, 'terminations')) >= 5 * size,
        () => 'no terminations settled within 60 s',
        60_000,
      );
      const from = Date.now();
      await pause(options.windowS * 1000);
      const steady = await measure(cluster, from, Date.now());
      windows[`${size}`] = steady;
      if (size === Math.max(...options.sizes) && size > 1) {
        const victim = cluster.replicas.at(-1)!;
        const backend = await freezeInsideTransaction(cluster.db, victim, { preferAdvisoryMs: 10_000, timeoutMs: 30_000 });
        const frozenAt = Date.now();
        try {
          await pause(options.freezeS * 1000);
        } finally {
          victim.child.kill('SIGCONT');
        }
        const resumedAt = Date.now();
        freeze = {
          before: await measure(cluster, frozenAt - options.windowS * 1000, frozenAt),
          during: await measure(cluster, frozenAt, resumedAt),
          lockHolder: `${backend.locks} lock(s)${backend.advisory ? ' incl. an advisory lock' : ''}`,
        };
      }
    } finally {
      await feeder.stop().catch(() => undefined);
      await cluster.close();
    }
  }
  const ratio = freeze ? round(freeze.during.tasksPerS / Math.max(freeze.before.tasksPerS, 1e-9), 2) : Number.NaN;
  const figures: Record<string, unknown> = {};
  for (const [size, w] of Object.entries(windows)) {
    figures[`terminationsPerS_${size}`] = w.terminationsPerS;
    figures[`tasksPerS_${size}`] = w.tasksPerS;
  }
  if (freeze) {
    figures.terminationsPerS_beforeFreeze = freeze.before.terminationsPerS;
    figures.terminationsPerS_duringFreeze = freeze.during.terminationsPerS;
    figures.tasksPerS_beforeFreeze = freeze.before.tasksPerS;
    figures.tasksPerS_duringFreeze = freeze.during.tasksPerS;
    figures.frozenReplicaHeld = freeze.lockHolder;
  }
  const dry = [...Object.entries(windows), ...(freeze ? [['freeze', freeze.during] as const] : [])]
    .filter(([, w]) => w.backlogAtEnd === 0)
    .map(([k]) => k);
  return {
    scenario: 'replicas',
    title: 'Replicas: settled per second with 1-3 replicas, and with one frozen inside a transaction',
    startedAt: startedAt.toISOString(),
    durationS: round((Date.now() - startedAt.getTime()) / 1000, 1),
    parameters: { ...options, tasksPerTermination: FREEZE_RUN_STEPS.length },
    figures,
    targets: freeze ? [check('tasks settled/s during the freeze against just before', ratio, 'x', '>=', 0.5)] : [],
    notes: [
      ...(dry.length > 0
        ? [`the backlog ran dry in window(s) ${dry.join(', ')}: raise backlogTasks, the rate there measured the intake`]
        : []),
      'provider limits apply per replica (limits.concurrency 8 each); the sandboxes add no latency',
    ],
  };
}
