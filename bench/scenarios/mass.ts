/**
 * Mass termination: one burst of terminations through SCIM against sandboxes that enforce
 * each provider's published rate limit in its own style (Okta 429 + X-Rate-Limit-Reset,
 * Google 403 rateLimitExceeded, Graph 429 + Retry-After) with a small added latency; the
 * daemon's per-provider request limit set a little under each. Compared with the lower
 * bound the rate limits impose: max over providers of (requests needed / rate).
 */
import type { SandboxKind } from '../../scripts/sandboxes.ts';
import { DEACTIVATE, cpuSeconds, memoryMb, pool, round, startEnv, userBody } from '../lib/env.ts';
import { check, type ScenarioResult } from '../lib/result.ts';

export interface MassOptions {
  terminations: number;
  latencyMs: number;
  /** Each sandbox's hard limit (requests per second, fixed one-second windows). */
  rateLimits: Partial<Record<SandboxKind, number>>;
  /** limits.requestsPerSecond = this fraction of the sandbox's limit. */
  clientFraction: number;
  /** limits.concurrency per provider. */
  concurrency: number;
  /** SCIM requests in flight at once while sending the burst. */
  intakeConcurrency: number;
  /** Hard stop: the run fails if not every termination is revoked by then. */
  timeoutS: number;
}

export const MASS_DEFAULTS: MassOptions = {
  terminations: 5000,
  latencyMs: 10,
  rateLimits: { okta: 300, google: 400, microsoft: 500 },
  clientFraction: 0.95,
  concurrency: 32,
  intakeConcurrency: 32,
  timeoutS: 900,
};

export async function runMass(options: MassOptions): Promise<ScenarioResult> {
  const startedAt = new Date();
  const run = `mass${Date.now().toString(36)}`;
  const kinds = Object.keys(options.rateLimits) as SandboxKind[];
  const env = await startEnv({
    kinds,
    faults: Object.fromEntries(kinds.map((k) => [k, { latencyMs: options.latencyMs, rateLimitPerSecond: options.rateLimits[k] }])),
    limits: Object.fromEntries(
      kinds.map((k) => [
        k,
        { concurrency: options.concurrency, requestsPerSecond: Math.floor(options.rateLimits[k]! * options.clientFraction) },
      ]),
    ),
  });
  try {
    // Setup, not measured: the users the IdP pushed before.
    const ids = await pool(options.terminations, 16, async (n) => {
      const created = await env.scim('POST', '/Users', userBody(run, n));
      if (created.status !== 201) throw new Error(`POST /Users answered ${created.status}`);
      return { id: created.json.id as string, externalId: created.json.externalId as string };
    });
    await env.resetSandboxes();
    const pid = env.daemon.pid;
    const cpuBefore = cpuSeconds(pid);

    // The burst.
    const t0 = Date.now();
    const statuses = await pool(
      options.terminations,
      options.intakeConcurrency,
      async (n) => (await env.scim('PATCH', `/Users/${ids[n]!.id}`, DEACTIVATE)).status,
    );
    const intakeDoneMs = Date.now() - t0;
    const accepted = ids.filter((_, n) => statuses[n]! >= 200 && statuses[n]! < 300);

    // Wait (bounded) until every accepted termination is revoked, reading the store read-only.
    const db = env.readStore();
    const countRevoked = db.prepare("SELECT count(*) AS n FROM terminations WHERE source = 'scim' AND revoked_at IS NOT NULL");
    // A failed task, not the termination's state: that stays `running` while its other tasks (deletes after retention) wait.
    const hasFailedTask = "EXISTS (SELECT 1 FROM tasks WHERE tasks.termination_id = terminations.id AND tasks.state = 'failed')";
    const countFailed = db.prepare(
      `SELECT count(*) AS n FROM terminations WHERE source = 'scim' AND revoked_at IS NULL AND ${hasFailedTask}`,
    );
    let peakSampledRssMb = 0;
    const deadline = t0 + options.timeoutS * 1000;
    for (;;) {
      peakSampledRssMb = Math.max(peakSampledRssMb, memoryMb(pid).rssMb);
      const revoked = (countRevoked.get() as { n: number }).n;
      const failed = (countFailed.get() as { n: number }).n;
      if (revoked + failed >= accepted.length) break;
      if (Date.now() > deadline)
        throw new Error(`only ${revoked} of ${accepted.length} terminations revoked after ${options.timeoutS} s (${failed} failed)`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const cpuAfter = cpuSeconds(pid);
    const memory = memoryMb(pid);
    const rows = db
      .prepare(
        `SELECT subject_key AS key, ${hasFailedTask} AS failedTask, requested_at AS requestedAt, revoked_at AS revokedAt FROM terminations WHERE source = 'scim'`,
      )
      .all() as Array<{ key: string; failedTask: number; requestedAt: number; revokedAt: number | null }>;
    const lastRevokedAt = Math.max(...rows.map((r) => r.revokedAt ?? 0));
    const elapsedS = (lastRevokedAt - t0) / 1000;
    const keys = new Set(rows.map((r) => r.key));
    const lost = accepted.filter((u) => !keys.has(env.subjectIndex(`ext:${u.externalId}`))).length;
    const failed = rows.filter((r) => r.failedTask).length;

    // From the sandboxes: requests answered, rate-limit answers, effective writes.
    const perProvider: Record<
      string,
      { requests: number; rateLimited: number; needed: number; limit: number; boundS: number; duplicateWrites: number }
    > = {};
    let boundS = 0;
    let requests = 0;
    let rateLimited = 0;
    let duplicateWrites = 0;
    const writeCounters: Record<string, unknown> = {};
    for (const kind of kinds) {
      const log = await env.sandboxRequests(kind);
      const state = await env.sandboxState(kind);
      const limited = log.filter((e) => e.fault === 'rate_limited').length;
      const needed = log.length - limited;
      // An action executed twice shows as the same write (method and path: the path names the
      // account and, for per-item deletes, the item) answered 2xx more than once. The write
      // counters are keyed operation:account, and some operations legitimately count once per
      // item (Google tokens.delete per token): their largest count per operation is reported.
      const writes = new Map<string, number>();
      for (const e of log) {
        if (e.method === 'GET' || e.status < 200 || e.status >= 300) continue;
        const key = `${e.method} ${e.path}`;
        writes.set(key, (writes.get(key) ?? 0) + 1);
      }
      const dupes = [...writes.values()].filter((count) => count > 1).length;
      const maxCountByOperation: Record<string, number> = {};
      for (const [key, count] of Object.entries(state.writes)) {
        const op = key.slice(0, key.indexOf(':'));
        maxCountByOperation[op] = Math.max(maxCountByOperation[op] ?? 0, count);
      }
      writeCounters[kind] = { accounts: Object.keys(state.writes).length, maxCountByOperation };
      const bound = needed / options.rateLimits[kind]!;
      perProvider[kind] = {
        requests: log.length,
        rateLimited: limited,
        needed,
        limit: options.rateLimits[kind]!,
        boundS: round(bound),
        duplicateWrites: dupes,
      };
      boundS = Math.max(boundS, bound);
      requests += log.length;
      rateLimited += limited;
      duplicateWrites += dupes;
    }
    const ratio = elapsedS / boundS;
    const rateLimitedPct = (100 * rateLimited) / requests;
    const cpuPerTermination = (cpuAfter - cpuBefore) / accepted.length;

    return {
      scenario: 'mass',
      title: 'Mass termination',
      startedAt: startedAt.toISOString(),
      durationS: (Date.now() - startedAt.getTime()) / 1000,
      parameters: { ...options },
      figures: {
        terminations: options.terminations,
        accepted: accepted.length,
        intakeS: round(intakeDoneMs / 1000),
        allRevokedS: round(elapsedS),
        lowerBoundS: round(boundS),
        ratio: round(ratio),
        providerRequests: requests,
        rateLimitedAnswers: rateLimited,
        rateLimitedPct: round(rateLimitedPct, 3),
        failed,
        lost,
        duplicateWrites,
        peakRssMb: round(memory.peakRssMb, 1),
        cpuSeconds: round(cpuAfter - cpuBefore),
        cpuMsPerTermination: round(cpuPerTermination * 1000),
        perProvider,
        writeCounters,
      },
      targets: [
        check('time until every critical task is verified / lower bound', round(ratio), 'x', '<=', 1.15),
        check('rate-limit answers', round(rateLimitedPct, 3), '% of requests', '<', 1, '< 1 %'),
        check('terminations lost (SCIM 2xx without a termination)', lost, '', '<=', 0, '0'),
        check('actions executed twice (same write answered 2xx twice)', duplicateWrites, '', '<=', 0, '0'),
        check('terminations failed', failed, '', '<=', 0, '0'),
        check('daemon peak RSS (VmHWM)', round(memory.peakRssMb, 1), 'MB', '<', 300, '< 300 MB'),
      ],
      notes: [
        'elapsed = last revokedAt (daemon clock) - the moment the first SCIM PATCH was sent; users were created before, not timed',
        'lower bound = max over providers of (requests answered without a rate-limit fault / the sandbox limit per second)',
        `client limits: limits.requestsPerSecond = ${options.clientFraction} x each sandbox limit, concurrency ${options.concurrency} per provider`,
        'CPU and RSS of the daemon process from /proc/<pid>/stat and /proc/<pid>/status (VmHWM), CPU counted from the burst to the last revocation',
      ],
    };
  } finally {
    await env.stop();
  }
}
