/**
 * Time to revoke: terminations sent one after another through SCIM (POST the user, then
 * PATCH active=false), each waited for until its critical tasks are verified, against
 * sandboxes that add a fixed latency to every request. Compared with the lower bound that
 * provider latency alone imposes: the longest chain of sequential provider requests the
 * termination needed (read from the sandboxes' request logs) times the added latency.
 */
import type { RequestLogEntry } from '../../providers/sandbox/kit.ts';
import type { SandboxKind } from '../../scripts/sandboxes.ts';
import { DEACTIVATE, benchSteps, median, percentile, round, startEnv, userBody, type BenchEnv } from '../lib/env.ts';
import { check, type ScenarioResult } from '../lib/result.ts';

export interface TtrOptions {
  terminations: number;
  warmup: number;
  latencyMs: number;
  kinds: SandboxKind[];
  /** Longest wait for one termination to be revoked. */
  perTerminationTimeoutMs: number;
  /** The issue-32 door steps beside the cut (bench/lib/env.ts DOOR_STEPS). Default false. */
  doors: boolean;
}

export const TTR_DEFAULTS: TtrOptions = {
  terminations: 200,
  warmup: 3,
  latencyMs: 25,
  kinds: ['okta', 'google', 'microsoft', 'scim', 'brivo', 'caep'],
  perTerminationTimeoutMs: 10_000,
  doors: false,
};

interface Measured {
  userName: string;
  terminationId: string;
  requestedAt: number;
  effectiveAt: number;
  revokedAt: number;
  ttrMs: number;
}

/**
 * The longest chain of requests each of which starts after the previous one finished:
 * requests of tasks running in parallel overlap, so this is the sequential depth. Greedy
 * by earliest finish gives the largest set of pairwise non-overlapping intervals.
 */
export function sequentialChain(entries: Array<Pick<RequestLogEntry, 'startedAt' | 'finishedAt'>>): number {
  return chainOf(entries).length;
}

/** The requests of that chain, in order. */
export function chainOf<T extends Pick<RequestLogEntry, 'startedAt' | 'finishedAt'>>(entries: T[]): T[] {
  const sorted = [...entries].sort((a, b) => a.finishedAt - b.finishedAt);
  const chain: T[] = [];
  let lastEnd = -Infinity;
  for (const e of sorted) {
    if (e.startedAt >= lastEnd) {
      chain.push(e);
      lastEnd = e.finishedAt;
    }
  }
  return chain;
}

/** The termination's row as the bench reads it from the store. */
export interface TerminationRow {
  id: string;
  state: string;
  requested_at: number;
  effective_at: number;
  revoked_at: number | null;
  /** Tasks failed now: a termination stays `running` after one fails while its other tasks still run. */
  failed_tasks: number;
}

/**
 * Creates user `n` through SCIM, deactivates it with a PATCH, and waits until its
 * termination is revoked or failed, or `timeoutMs` passed; the row is undefined when no
 * termination was written. Waiting reads the store read-only from this process (an indexed
 * lookup of the open termination): polling the daemon's HTTP API every few ms would add
 * load to the process measured.
 */
export async function terminateThroughScim(
  env: BenchEnv,
  run: string,
  n: number,
  timeoutMs: number,
): Promise<{ userName: string; row: TerminationRow | undefined }> {
  const created = await env.scim('POST', '/Users', userBody(run, n));
  if (created.status !== 201) throw new Error(`POST /Users answered ${created.status}: ${JSON.stringify(created.json)}`);
  const patched = await env.scim('PATCH', `/Users/${created.json.id}`, DEACTIVATE);
  if (patched.status !== 200) throw new Error(`PATCH answered ${patched.status}: ${JSON.stringify(patched.json)}`);
  // The subject key is the HRIS id (externalId) when there is one: look the termination up by it.
  const subjectKey = `ext:${created.json.externalId as string}`;
  const open = env
    .readStore()
    .prepare(
      "SELECT id, state, requested_at, effective_at, revoked_at, (SELECT count(*) FROM tasks WHERE tasks.termination_id = terminations.id AND tasks.state = 'failed') AS failed_tasks FROM terminations WHERE subject_key = ?",
    );
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = open.get(env.subjectIndex(subjectKey)) as TerminationRow | undefined;
    if (row?.revoked_at != null || (row?.failed_tasks ?? 0) > 0 || Date.now() > deadline)
      return { userName: created.json.userName as string, row };
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Terminates user `n` through SCIM and answers its termination id and time to revoke (from the store); throws unless it was revoked. */
export async function revokedThroughScim(env: BenchEnv, run: string, n: number, timeoutMs: number): Promise<{ id: string; ttrMs: number }> {
  const { userName, row } = await terminateThroughScim(env, run, n, timeoutMs);
  if (row?.revoked_at == null) {
    throw new Error(
      `termination of ${userName} ${(row?.failed_tasks ?? 0) > 0 ? 'has a failed task' : `not revoked after ${timeoutMs} ms`}`,
    );
  }
  return { id: row.id, ttrMs: row.revoked_at - Math.max(row.effective_at, row.requested_at) };
}

export async function runTtr(options: TtrOptions): Promise<ScenarioResult> {
  const startedAt = new Date();
  const run = `ttr${Date.now().toString(36)}`;
  const faults = Object.fromEntries(options.kinds.map((k) => [k, { latencyMs: options.latencyMs }]));
  const env = await startEnv({ kinds: options.kinds, faults, steps: benchSteps(options.kinds, options.doors) });
  try {
    const terminate = async (n: number): Promise<Measured> => {
      const { userName, row } = await terminateThroughScim(env, run, n, options.perTerminationTimeoutMs);
      // The figures come from the admin API, read once the termination is revoked.
      const detail = row ? await env.admin(`/terminations/${row.id}`) : null;
      const t = detail?.termination;
      if (!t?.revokedAt) {
        throw new Error(
          `termination of ${userName} ${(row?.failed_tasks ?? 0) > 0 ? 'has a failed task' : `not revoked after ${options.perTerminationTimeoutMs} ms`}: ${JSON.stringify(detail?.errors ?? 'no termination')}`,
        );
      }
      const requestedAt = Date.parse(t.requestedAt);
      const effectiveAt = Date.parse(t.effectiveAt);
      const revokedAt = Date.parse(t.revokedAt);
      return { userName, terminationId: t.id, requestedAt, effectiveAt, revokedAt, ttrMs: revokedAt - Math.max(effectiveAt, requestedAt) };
    };

    for (let i = 0; i < options.warmup; i += 1) await terminate(-1 - i);
    await env.resetSandboxes();
    const measured: Measured[] = [];
    for (let i = 0; i < options.terminations; i += 1) measured.push(await terminate(i));

    // Attribute each request to the termination whose window [requestedAt, revokedAt] holds it
    // (terminations ran one at a time, so the windows do not overlap).
    const logs = new Map<SandboxKind, RequestLogEntry[]>();
    for (const kind of options.kinds) logs.set(kind, await env.sandboxRequests(kind));
    const perTermination = measured.map((m) => {
      let chain = 0;
      let requests = 0;
      // Time the longest chain spent inside the sandbox (latency plus the emulator's own handling).
      let chainInSandboxMs = 0;
      const chains: Record<string, number> = {};
      for (const [kind, entries] of logs) {
        const inWindow = entries.filter((e) => e.startedAt >= m.requestedAt && e.startedAt <= m.revokedAt);
        requests += inWindow.length;
        const longest = chainOf(inWindow);
        chains[kind] = longest.length;
        if (longest.length > chain) {
          chain = longest.length;
          chainInSandboxMs = longest.reduce((sum, e) => sum + (e.finishedAt - e.startedAt), 0);
        }
      }
      const boundMs = chain * options.latencyMs;
      return { ...m, chain, chains, requests, boundMs, chainInSandboxMs, ratio: m.ttrMs / boundMs };
    });

    const ttrs = perTermination.map((p) => p.ttrMs).sort((a, b) => a - b);
    const ratios = perTermination.map((p) => p.ratio).sort((a, b) => a - b);
    const bounds = perTermination.map((p) => p.boundMs);
    const boundMs = median(bounds);
    const chainsByKind = Object.fromEntries(options.kinds.map((k) => [k, median(perTermination.map((p) => p.chains[k] ?? 0))]));
    const p50 = percentile(ttrs, 50);
    const p95 = percentile(ttrs, 95);
    const p99 = percentile(ttrs, 99);
    const ratioP50 = percentile(ratios, 50);
    const ratioP99 = percentile(ratios, 99);
    return {
      scenario: 'ttr',
      title: 'Time to revoke',
      startedAt: startedAt.toISOString(),
      durationS: (Date.now() - startedAt.getTime()) / 1000,
      parameters: { ...options },
      figures: {
        terminations: measured.length,
        ttrP50Ms: p50,
        ttrP95Ms: p95,
        ttrP99Ms: p99,
        ttrMaxMs: ttrs.at(-1),
        lowerBoundMs: boundMs,
        longestChainRequests: median(perTermination.map((p) => p.chain)),
        sequentialRequestsByProvider: chainsByKind,
        providerRequestsPerTermination: median(perTermination.map((p) => p.requests)),
        ratioP50: round(ratioP50),
        ratioP95: round(percentile(ratios, 95)),
        ratioP99: round(ratioP99),
        overheadP50Ms: round(p50 - boundMs, 1),
        // Of that overhead, what the sandboxes themselves add beyond the configured latency (timer slack, handling).
        chainInSandboxP50Ms: median(perTermination.map((p) => p.chainInSandboxMs)),
      },
      targets: [
        check('p50 time to revoke / lower bound', round(ratioP50), 'x', '<=', 1.2),
        check('p99 time to revoke / lower bound', round(ratioP99), 'x', '<=', 1.5),
      ],
      notes: [
        `time to revoke is the daemon's own revokedAt - max(effectiveAt, requestedAt), read from GET /admin/v1/terminations/{id}; completion is awaited by polling the store read-only (no load on the daemon); ${options.warmup} warm-up terminations are not counted`,
        `lower bound per termination = longest chain of sequential requests at any one provider (from the sandbox request logs) x ${options.latencyMs} ms`,
        ...(options.doors
          ? [
              'with --doors: the playbook holds the issue-32 door steps beside the cut; their requests fall in the same windows, so the chains and the bound count them too: compare times to revoke, not ratios (--scenario doors alternates both sides)',
            ]
          : []),
      ],
    };
  } finally {
    await env.stop();
  }
}
