/**
 * Where a termination's time to revoke goes, stage by stage, along its longest chain of
 * provider requests (a diagnostic beside the time-to-revoke scenario, not a scenario):
 * terminations one after another as in `bench/scenarios/ttr.ts`, then for each the task at
 * the provider with the longest chain, from the store's task times and the sandbox's
 * request log. Prints the median and the range of each stage.
 *
 *   node --import tsx bench/ttr-timeline.ts [--terminations 50] [--kinds okta,google,microsoft,scim,brivo]
 */
import { parseArgs } from 'node:util';
import type { RequestLogEntry } from '../providers/sandbox/kit.ts';
import type { SandboxKind } from '../scripts/sandboxes.ts';
import { median, startEnv } from './lib/env.ts';
import { chainOf, terminateThroughScim, TTR_DEFAULTS } from './scenarios/ttr.ts';

const { values } = parseArgs({
  options: { terminations: { type: 'string', default: '50' }, kinds: { type: 'string', default: TTR_DEFAULTS.kinds.join(',') } },
});
const kinds = values.kinds.split(',') as SandboxKind[];
const count = Number(values.terminations);
const WARMUP = 3;

interface TaskTimes {
  provider: string;
  started_at: number;
  finished_at: number;
}

const env = await startEnv({ kinds, faults: Object.fromEntries(kinds.map((k) => [k, { latencyMs: TTR_DEFAULTS.latencyMs }])) });
try {
  const run = `timeline${Date.now().toString(36)}`;
  const done: Array<{ requestedAt: number; revokedAt: number; tasks: TaskTimes[] }> = [];
  const tasksOf = env.readStore().prepare('SELECT provider, started_at, finished_at FROM tasks WHERE termination_id = ?');
  for (let n = -WARMUP; n < count; n += 1) {
    const { userName, row } = await terminateThroughScim(env, run, n, TTR_DEFAULTS.perTerminationTimeoutMs);
    if (row?.revoked_at == null)
      throw new Error(`termination of ${userName} ${(row?.failed_tasks ?? 0) > 0 ? 'has a failed task' : 'not revoked in time'}`);
    if (n === -1) await env.resetSandboxes();
    if (n >= 0) done.push({ requestedAt: row.requested_at, revokedAt: row.revoked_at, tasks: tasksOf.all(row.id) as TaskTimes[] });
  }

  const logs = new Map<SandboxKind, RequestLogEntry[]>();
  for (const kind of kinds) logs.set(kind, await env.sandboxRequests(kind));
  const stages = new Map<string, number[]>();
  const longest = new Map<string, number>();
  const add = (stage: string, ms: number) => stages.set(stage, [...(stages.get(stage) ?? []), ms]);
  for (const t of done) {
    // The provider with the longest chain in this termination's window, and its last task to finish.
    const [kind, chain] = [...logs]
      .map(([k, entries]) => [k, chainOf(entries.filter((e) => e.startedAt >= t.requestedAt && e.startedAt <= t.revokedAt))] as const)
      .reduce((a, b) => (b[1].length > a[1].length ? b : a));
    const task = t.tasks.filter((x) => x.provider === kind).reduce((a, b) => (b.finished_at > a.finished_at ? b : a));
    const seen = `${kind} (${chain.length} requests)`;
    longest.set(seen, (longest.get(seen) ?? 0) + 1);
    add('time to revoke', t.revokedAt - t.requestedAt);
    add('written -> task claimed', task.started_at - t.requestedAt);
    add('claimed -> first request', chain[0]!.startedAt - task.started_at);
    add(
      'between requests (sum)',
      chain.slice(1).reduce((sum, e, i) => sum + Math.max(0, e.startedAt - chain[i]!.finishedAt), 0),
    );
    add(
      'inside the sandbox (sum)',
      chain.reduce((sum, e) => sum + e.finishedAt - e.startedAt, 0),
    );
    add('last answer -> task finished', task.finished_at - chain.at(-1)!.finishedAt);
    add('task finished -> revoked', t.revokedAt - task.finished_at);
  }
  console.log(`${done.length} terminations, providers ${kinds.join(', ')}, ${TTR_DEFAULTS.latencyMs} ms per request`);
  console.log(`longest chain: ${[...longest].map(([k, n]) => `${k} in ${n}`).join(', ')}`);
  for (const [stage, ms] of stages) console.log(`${stage.padEnd(40)} median ${median(ms)} ms (${Math.min(...ms)} to ${Math.max(...ms)})`);
} finally {
  await env.stop();
}
