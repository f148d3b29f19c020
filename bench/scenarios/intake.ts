/**
 * Intake: autocannon sends SCIM PATCH active=false, each for a distinct pre-created user,
 * for a fixed time with a fixed number of connections: against the daemon (engine running,
 * every 2xx is on disk: the WAL is synced after each commit), and before and after that
 * against a bare scimmy-routers server with an in-memory store (bench/bare-scimmy.ts), the
 * framework's ceiling. Both servers run in their own process. Each first gets the same load
 * for a warm-up that is not counted, because a long-running daemon is measured, not one that
 * has just started: in its first seconds under this load V8's helper threads spent about a
 * fifth of a core compiling the daemon's code (TurboFan; it has far more code than the bare
 * server, from the provider SDKs to Kysely), on the two cores intake shares.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { TERMINAL_TASK_STATES } from '../../src/domain/types.ts';
import { fromScimUser } from '../../src/intake/scim/user-mapping.ts';
import { foldUserName } from '../../src/store/directory.ts';
import { createSqliteStore } from '../../src/store/sqlite.ts';
import type { SandboxKind } from '../../scripts/sandboxes.ts';
import { DEACTIVATE, SCIM_JSON, SCIM_TOKEN, cpuSeconds, round, startEnv, userBody } from '../lib/env.ts';
import { check, type ScenarioResult } from '../lib/result.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface IntakeOptions {
  durationS: number;
  /** The same load first, not counted, so that both servers are measured past their JIT warm-up. */
  warmupS: number;
  connections: number;
  /** Users pre-created per server: more than the run can deactivate, so every PATCH is a new termination. */
  users: number;
  kinds: SandboxKind[];
}

export const INTAKE_DEFAULTS: IntakeOptions = {
  durationS: 20,
  warmupS: 10,
  connections: 20,
  users: 40_000,
  kinds: ['okta', 'google', 'microsoft'],
};

interface Load {
  requestsPerSecond: number;
  requests: number;
  ok: number;
  /** Answers during the warm-up: not in the rates, but each 2xx is a termination and each failure counts. */
  warmupOk: number;
  warmupFailed: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  exhausted: boolean;
  cpuSeconds: number;
}

/** Loads `url` for the warm-up, then calls `beforeMeasure` and loads it for the measured run. */
async function fire(url: string, ids: string[], options: IntakeOptions, pid: number, beforeMeasure?: () => void): Promise<Load> {
  let next = 0;
  const load = (durationS: number) =>
    autocannon({
      url,
      connections: options.connections,
      duration: durationS,
      timeout: 30,
      method: 'PATCH',
      headers: { authorization: `Bearer ${SCIM_TOKEN}`, 'content-type': SCIM_JSON, accept: SCIM_JSON },
      body: DEACTIVATE,
      requests: [
        {
          // A distinct user per request; past the pool, an unknown id (answered 404, counted as non-2xx).
          setupRequest: (request: any) => ({ ...request, path: `/scim/v2/Users/${ids[next++] ?? `exhausted-${next}`}` }),
        },
      ],
    });
  let warmupOk = 0;
  let warmupFailed = 0;
  if (options.warmupS > 0) {
    const warmup = await load(options.warmupS);
    warmupOk = warmup['2xx'];
    warmupFailed = warmup.non2xx + warmup.errors + warmup.timeouts;
  }
  beforeMeasure?.();
  const cpuBefore = cpuSeconds(pid);
  const result = await load(options.durationS);
  const cpu = cpuSeconds(pid) - cpuBefore;
  const duration = result.duration || options.durationS;
  return {
    requestsPerSecond: round(result['2xx'] / duration, 1),
    requests: result.requests.total,
    ok: result['2xx'],
    warmupOk,
    warmupFailed,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    exhausted: next > ids.length,
    cpuSeconds: round(cpu),
  };
}

/**
 * Seeds the daemon's directory before it starts (setup, not measured; synchronous=OFF just for this).
 * The users are written as rows from before migration 0017 (in clear, `sealed` 0), because
 * this process cannot seal them under the daemon's master key: a store opened without one
 * has a key of its own. The daemon's start pass seals them before it serves (src/store/sql/directory-legacy.ts).
 */
async function seedDirectory(dbPath: string, run: string, count: number): Promise<string[]> {
  const store = createSqliteStore(dbPath);
  await store.migrate();
  await store.close();
  const sqlite = new Database(dbPath);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = OFF');
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) });
  const ids: string[] = [];
  await db.transaction().execute(async (trx) => {
    const now = Date.now();
    for (let n = 0; n < count; n += 1) {
      const id = randomUUID();
      const user = fromScimUser(JSON.parse(userBody(run, n)));
      await trx
        .insertInto('directory_users')
        .values({
          id,
          user_name: user.userName,
          user_name_lower: foldUserName(user.userName),
          external_id: user.externalId,
          active: 1,
          manager_id: user.managerId,
          attributes: JSON.stringify(user.attributes),
          version: 1,
          created_at: now,
          updated_at: now,
        })
        .execute();
      ids.push(id);
    }
  });
  await db.destroy();
  return ids;
}

async function startBare(users: number): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/bare-scimmy.ts', '--users', String(users), '--token', SCIM_TOKEN], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('bare scimmy server did not start in 60 s')), 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = /^\{"url":.*\}$/m.exec(out);
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line[0]) as { url: string }).url);
      }
    });
    child.once('exit', (code) => reject(new Error(`bare scimmy server exited with ${code}`)));
  });
  return {
    url,
    pid: child.pid!,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function runIntake(options: IntakeOptions): Promise<ScenarioResult> {
  const startedAt = new Date();
  const run = `intake${Date.now().toString(36)}`;

  // The bare server is loaded before and after the daemon (it idles in between), and the
  // ratio is taken against the mean of the two: a host that speeds up or slows down during
  // the run then moves both sides of it.
  const bare = await startBare(2 * options.users);
  const bareIds = (from: number) => Array.from({ length: options.users }, (_, n) => `u${from + n}`);
  let bareBefore: Load;
  let bareAfter: Load;
  let daemonLoad: Load;
  let terminations: number;
  let tasksFinished: number;
  try {
    bareBefore = await fire(bare.url, bareIds(0), options, bare.pid);

    let ids: string[] = [];
    const env = await startEnv({
      kinds: options.kinds,
      faults: {},
      beforeDaemon: async (dbPath) => {
        ids = await seedDirectory(dbPath, run, options.users);
      },
    });
    try {
      // What the engine got done beside intake, in the measured run: it is running, not starved.
      const finishedSql = `SELECT count(*) AS n FROM tasks WHERE state IN (${TERMINAL_TASK_STATES.map(() => '?').join(', ')})`;
      const finished = () =>
        (
          env
            .readStore()
            .prepare(finishedSql)
            .get(...TERMINAL_TASK_STATES) as { n: number }
        ).n;
      let finishedBefore = 0;
      daemonLoad = await fire(env.daemon.url, ids, options, env.daemon.pid, () => (finishedBefore = finished()));
      tasksFinished = finished() - finishedBefore;
      terminations = (env.readStore().prepare("SELECT count(*) AS n FROM terminations WHERE source = 'scim'").get() as { n: number }).n;
    } finally {
      await env.stop();
    }

    // Already warm: no second warm-up.
    bareAfter = await fire(bare.url, bareIds(options.users), { ...options, warmupS: 0 }, bare.pid);
  } finally {
    await bare.stop();
  }

  const mean = (f: (load: Load) => number) => (f(bareBefore) + f(bareAfter)) / 2;
  const bareRequestsPerSecond = round(
    mean((l) => l.requestsPerSecond),
    1,
  );
  const ratio = daemonLoad.requestsPerSecond / bareRequestsPerSecond;
  return {
    scenario: 'intake',
    title: 'SCIM intake',
    startedAt: startedAt.toISOString(),
    durationS: (Date.now() - startedAt.getTime()) / 1000,
    parameters: { ...options },
    figures: {
      daemonRequestsPerSecond: daemonLoad.requestsPerSecond,
      daemonLatencyP50Ms: daemonLoad.latencyP50Ms,
      daemonLatencyP99Ms: daemonLoad.latencyP99Ms,
      daemonCpuMsPerRequest: round((1000 * daemonLoad.cpuSeconds) / Math.max(1, daemonLoad.requests)),
      bareRequestsPerSecond,
      bareBeforeRequestsPerSecond: bareBefore.requestsPerSecond,
      bareAfterRequestsPerSecond: bareAfter.requestsPerSecond,
      bareLatencyP50Ms: round(
        mean((l) => l.latencyP50Ms),
        1,
      ),
      bareLatencyP99Ms: round(
        mean((l) => l.latencyP99Ms),
        1,
      ),
      bareCpuMsPerRequest: round(mean((l) => (1000 * l.cpuSeconds) / Math.max(1, l.requests))),
      ratio: round(ratio),
      daemonAnswers2xx: daemonLoad.ok,
      daemonNon2xx: daemonLoad.non2xx,
      daemonErrors: daemonLoad.errors + daemonLoad.timeouts,
      daemonWarmupAnswers2xx: daemonLoad.warmupOk,
      daemonWarmupFailed: daemonLoad.warmupFailed,
      terminationsWritten: terminations,
      engineTasksFinished: tasksFinished,
      engineTasksPerSecond: round(tasksFinished / options.durationS, 1),
      poolExhausted: daemonLoad.exhausted || bareBefore.exhausted || bareAfter.exhausted,
    },
    targets: [
      check('daemon requests/s / bare scimmy-routers requests/s (mean of before and after)', round(ratio), 'x', '>=', 0.8),
      check(
        'daemon answers that were not 2xx (warm-up included)',
        daemonLoad.non2xx + daemonLoad.errors + daemonLoad.timeouts + daemonLoad.warmupFailed,
        '',
        '<=',
        0,
        '0',
      ),
      check('2xx answers without a stored termination', Math.max(0, daemonLoad.ok + daemonLoad.warmupOk - terminations), '', '<=', 0, '0'),
    ],
    notes: [
      `autocannon, ${options.connections} connections, ${options.durationS} s measured after ${options.warmupS} s of the same load not counted, PATCH active=false for a distinct pre-created user per request`,
      'requests/s counts 2xx answers; the daemon runs its engine (sandbox providers without latency) and answers only after the SQLite commit and its WAL sync',
      'the bare server runs before and after the daemon (bare figures: the mean of the two), each in its own process; users are seeded before the clock starts',
      'engineTasksFinished: the tasks the engine finished during the measured run, beside intake',
    ],
  };
}
