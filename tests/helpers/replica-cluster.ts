/**
 * Several `deprovisiond serve` replicas on one PostgreSQL schema, driven from outside as
 * an operator's incidents would: a feeder that keeps work queued over signed webhooks,
 * and the faults (SIGSTOP between transactions, SIGSTOP inside one, SIGKILL). Shared by
 * tests/multi-replica-freeze.test.ts and the `replicas` benchmark.
 *
 * Each replica connects with its own `application_name` (set in its connection URL, which
 * node-postgres lets override the store's fixed name), so `pg_stat_activity` tells whose
 * backend is idle inside a transaction.
 */
import { postgresSealedReader, type SealedReader } from './sealed-reader.ts';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { SandboxKind } from '../../scripts/sandboxes.ts';
import { Webhook } from 'standardwebhooks';
import { spawnDaemon, spawnSandboxes, type DaemonProcess, type SandboxProcess } from './processes.ts';

// No vitest here (reliability.ts and postgres.ts import it): the replicas benchmark runs these helpers outside vitest.
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface ReplicaStep {
  id: string;
  provider: 'okta' | 'google' | 'microsoft';
  action: string;
  params?: Record<string, unknown>;
  after?: readonly string[];
  /** The sandbox write counters one execution adds: operation → count. */
  writes: Readonly<Record<string, number>>;
}

export interface Replica extends DaemonProcess {
  /** replica-1, replica-2, ... */
  name: string;
  /** Its connections' application_name in pg_stat_activity. */
  appName: string;
  /** The config file it runs (kept, so the replica can be started again). */
  configFile: string;
}

export interface ClusterOptions {
  databaseUrl: string;
  schema: string;
  replicas: number;
  leaseMs: number;
  steps: readonly ReplicaStep[];
  /** Pooled connections per replica. */
  poolSize?: number;
  /** limits.concurrency per provider and replica. */
  concurrency?: number;
}

export interface Cluster {
  replicas: Replica[];
  sandboxes: SandboxProcess;
  /** The observer's pool on the cluster's schema (application_name "replica-observer"). */
  db: pg.Pool;
  /** Opens the store's sealed columns with the replicas' keys (docs/privacy.md). */
  sealed(): Promise<SealedReader>;
  /** Posts one signed webhook for `email` to `via`, retrying (same webhook-id) until it is acknowledged or `deadline`. */
  terminate(via: Replica, email: string, deadline: number): Promise<string>;
  count(sql: string, params?: unknown[]): Promise<number>;
  /** Stops the replicas (resuming stopped ones first) and the sandboxes; drops the schema unless `keepSchema`. */
  close(o?: { keepSchema?: boolean }): Promise<void>;
}

const KINDS: readonly SandboxKind[] = ['okta', 'google', 'microsoft'];
/** Who gets the leaver's files at Google and in OneDrive (auto-provisioned by the sandboxes). */
const FILES_OWNER = 'files-archive@example.com';

async function postJson(url: string, body: unknown): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  if (res.status >= 500) throw new Error(`${url}: ${res.status}`);
  return res.status;
}

export function withApplicationName(url: string, appName: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('application_name', appName);
  return parsed.toString();
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-cluster-'));
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const masterKey = randomBytes(32);
  const replicas: Replica[] = [];
  let sandboxes: SandboxProcess | undefined;
  let db: pg.Pool | undefined;
  const close = async (o: { keepSchema?: boolean } = {}) => {
    await Promise.allSettled(
      replicas.map((r) => {
        // A stopped process cannot act on SIGTERM: resume it first.
        r.child.kill('SIGCONT');
        return r.stop('SIGTERM', 5_000);
      }),
    );
    await sandboxes?.stop('SIGTERM', 2_000);
    if (db && !o.keepSchema) await db.query(`drop schema if exists ${options.schema}, ${options.schema}_keyring cascade`);
    await db?.end();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    sandboxes = await spawnSandboxes(['--kinds', KINDS.join(',')]);
    // The Okta emulator's auto-provisioning would create a fresh user when a repeated
    // delete looks the login up again (real Okta answers "no such user"): seed instead.
    await postJson(`${sandboxes.sandboxes.okta!.url}/__sandbox/auto-provision`, { enabled: false });
    const limits = { concurrency: options.concurrency ?? 8 };
    const providers = {
      okta: { kind: 'okta', ...sandboxes.sandboxes.okta!.settings, limits },
      google: { kind: 'google', ...sandboxes.sandboxes.google!.settings, fallbackOwner: FILES_OWNER, limits },
      microsoft: { kind: 'microsoft', ...sandboxes.sandboxes.microsoft!.settings, fallbackOwner: FILES_OWNER, limits },
    };
    const files = Array.from({ length: options.replicas }, (_, i) => {
      const name = `replica-${i + 1}`;
      const appName = `deprovisiond-${name}`;
      const config = {
        server: { host: '127.0.0.1', port: 0 },
        store: {
          postgres: { url: withApplicationName(options.databaseUrl, appName), schema: options.schema, poolSize: options.poolSize ?? 4 },
        },
        // Every replica shares the master key (src/store/open.ts refuses PostgreSQL without one).
        privacy: { masterKey: masterKey.toString('base64') },
        // Open /metrics: the test reads each replica's counters (loopback only).
        auth: { webhook: [secret], publicMetrics: true },
        engine: {
          lease: `${options.leaseMs}ms`,
          attemptTimeout: '10s',
          shutdownGrace: '2s',
          retry: { baseDelay: '100ms', maxDelay: '1s' },
        },
        providers,
        playbooks: { leaver: { steps: options.steps.map(({ writes: _writes, ...step }) => step) } },
        defaultPlaybook: 'leaver',
      };
      const configFile = join(dir, `${name}.yaml`);
      // JSON is YAML: no quoting surprises in URLs or secrets.
      writeFileSync(configFile, JSON.stringify(config, null, 2));
      return { name, appName, configFile };
    });
    const started = await Promise.allSettled(files.map((f) => spawnDaemon(f.configFile, { LOG_LEVEL: 'info' })));
    started.forEach((result, i) => {
      if (result.status === 'fulfilled') replicas.push({ ...result.value, ...files[i]! });
    });
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    db = new pg.Pool({
      connectionString: withApplicationName(options.databaseUrl, 'replica-observer'),
      max: 3,
      options: `-c search_path=${options.schema}`,
    });
  } catch (error) {
    await close();
    throw error;
  }
  const pool = db;
  const signer = new Webhook(secret);
  return {
    replicas,
    sandboxes,
    db: pool,
    sealed: () => postgresSealedReader(pool, options.schema, masterKey),
    async terminate(via, email, deadline) {
      // 409: seeded by an earlier try.
      const seeded = await postJson(`${sandboxes.sandboxes.okta!.url}/__sandbox/users`, { login: email, email });
      if (seeded !== 201 && seeded !== 409) throw new Error(`seeding Okta user ${email}: ${seeded}`);
      const body = JSON.stringify({ subject: { userName: email, emails: [email] }, reason: 'replica freeze test' });
      const id = `msg_${email}`;
      // Retried with the same webhook-id, as a real sender does: a repeat is answered from the first.
      for (;;) {
        const at = new Date();
        const headers = {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': signer.sign(id, at, body),
        };
        const res = await fetch(`${via.url}/webhooks/termination`, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(15_000),
        }).catch(() => null);
        const text = res ? await res.text().catch(() => '') : '';
        const status = res?.status ?? 0;
        if (status === 200 || status === 201) return (JSON.parse(text) as { terminationId: string }).terminationId;
        if (status !== 0 && status < 500) throw new Error(`webhook for ${email}: ${status} ${text.slice(0, 300)}`);
        if (Date.now() > deadline) throw new Error(`webhook for ${email}: not acknowledged before the deadline (last status ${status})`);
        await sleep(100);
      }
    },
    async count(sql, params = []) {
      const { rows } = await pool.query<{ n: string | number }>(sql, params);
      return Number(rows[0]?.n ?? 0);
    },
    close,
  };
}

/**
 * The sum of all samples of counter `name` on the replica's /metrics, or null when the
 * replica does not export it (or does not answer).
 */
export async function scrapeCounter(replica: Replica, name: string): Promise<number | null> {
  const res = await fetch(`${replica.url}/metrics`, { signal: AbortSignal.timeout(10_000) }).catch(() => null);
  if (!res?.ok) return null;
  const samples = (await res.text()).split('\n').filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`));
  return samples.length === 0 ? null : samples.reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/** Tasks not yet settled (pending or running). */
export const BACKLOG_SQL = `select count(*) as n from tasks where state in ('pending', 'running')`;

export interface Feeder {
  /** Termination ids acknowledged so far. */
  readonly submitted: string[];
  /** Stops submitting and waits for requests in flight; throws the first intake failure. */
  stop(): Promise<string[]>;
  /** Waits until all `maxTerminations` are acknowledged (or the deadline passed); throws the first intake failure. */
  done(): Promise<string[]>;
}

/**
 * Keeps at least `backlogTasks` tasks queued by submitting terminations (round-robin over
 * `via()`) until `maxTerminations` are acknowledged or `stop()`. A queue that never runs
 * dry makes settled-per-second measure the replicas, not the intake.
 */
export function startFeeder(
  cluster: Cluster,
  o: {
    prefix: string;
    via: () => Replica[];
    backlogTasks: number;
    tasksPerTermination: number;
    maxTerminations: number;
    deadline: number;
    concurrency?: number;
    /** Stops feeding once this says so (before maxTerminations): work must outlast a fault, however fast the replicas are. */
    until?: () => boolean;
  },
): Feeder {
  const submitted: string[] = [];
  let stopped = false;
  let next = 0;
  let failure: unknown = null;
  const loop = async () => {
    while (!stopped && !o.until?.() && next < o.maxTerminations && failure === null && Date.now() < o.deadline) {
      const backlog = await cluster.count(BACKLOG_SQL);
      const wanted = Math.min(o.maxTerminations - next, Math.ceil((o.backlogTasks - backlog) / o.tasksPerTermination), o.concurrency ?? 12);
      if (wanted <= 0) {
        await sleep(50);
        continue;
      }
      const targets = o.via();
      await Promise.all(
        Array.from({ length: wanted }, async () => {
          const i = next++;
          const via = targets[i % targets.length]!;
          submitted.push(await cluster.terminate(via, `${o.prefix}-${i}@example.com`, o.deadline));
        }),
      );
    }
  };
  const running = loop().catch((error: unknown) => {
    failure = error;
  });
  return {
    submitted,
    async stop() {
      stopped = true;
      return this.done();
    },
    async done() {
      await running;
      if (failure) throw failure;
      return submitted;
    },
  };
}

/** A backend of the replica inside a transaction, as pg_stat_activity and pg_locks show it. */
export interface Backend {
  pid: number;
  xactStart: string;
  /** Holds a granted advisory lock (a termination's lock or the audit linker's). */
  advisory: boolean;
  /** Granted locks of any kind. */
  locks: number;
  query: string;
}

async function idleInTransaction(db: pg.Pool, appName: string): Promise<Backend[]> {
  const { rows } = await db.query<{ pid: number; xact_start: string; advisory: boolean; locks: string; query: string }>(
    `select a.pid, a.xact_start::text as xact_start, a.query,
            exists (select 1 from pg_locks l where l.pid = a.pid and l.granted and l.locktype = 'advisory') as advisory,
            (select count(*) from pg_locks l where l.pid = a.pid and l.granted) as locks
       from pg_stat_activity a
      where a.application_name = $1 and a.state = 'idle in transaction'`,
    [appName],
  );
  return rows.map((r) => ({ pid: r.pid, xactStart: r.xact_start, advisory: r.advisory, locks: Number(r.locks), query: r.query }));
}

/** Backends of the replica that are in a transaction or running a statement. */
async function busyBackends(db: pg.Pool, appName: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `select count(*) as n from pg_stat_activity where application_name = $1 and (state like 'idle in transaction%' or state = 'active')`,
    [appName],
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * SIGSTOPs the replica at a moment one of its backends is idle inside a transaction,
 * preferring one that holds an advisory lock for the first `preferAdvisoryMs` (a lock every
 * worker may need). A candidate seen before the stop may have committed before the signal
 * landed, so it is looked at again after: the same backend, the same transaction, still
 * waiting on the stopped process. Otherwise the replica is resumed and the search goes on.
 */
export async function freezeInsideTransaction(
  db: pg.Pool,
  replica: Replica,
  o: { preferAdvisoryMs: number; timeoutMs: number },
): Promise<Backend & { tries: number }> {
  const started = Date.now();
  let tries = 0;
  for (;;) {
    const elapsed = Date.now() - started;
    if (elapsed > o.timeoutMs)
      throw new Error(`no moment with ${replica.name} idle inside a transaction within ${o.timeoutMs} ms (${tries} tries)`);
    const wantAdvisory = elapsed < o.preferAdvisoryMs;
    const candidate = (await idleInTransaction(db, replica.appName)).find((b) => b.locks > 0 && (!wantAdvisory || b.advisory));
    if (!candidate) continue;
    tries += 1;
    replica.child.kill('SIGSTOP');
    const still = (await idleInTransaction(db, replica.appName)).find(
      (b) => b.pid === candidate.pid && b.xactStart === candidate.xactStart,
    );
    if (still && (!wantAdvisory || still.advisory)) return { ...still, tries };
    replica.child.kill('SIGCONT');
  }
}

/**
 * SIGSTOPs the replica while it holds leases and none of its backends is in a transaction
 * or a statement: it is stopped between transactions, so it blocks no one in PostgreSQL.
 */
export async function freezeBetweenTransactions(
  cluster: Cluster,
  replica: Replica,
  timeoutMs: number,
): Promise<{ heldLeases: string[]; tries: number }> {
  const deadline = Date.now() + timeoutMs;
  let tries = 0;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`no moment with ${replica.name} holding leases between transactions within ${timeoutMs} ms`);
    const held = await cluster.count(`select count(*) as n from tasks where state = 'running' and lease_owner = $1`, [replica.worker]);
    if (held === 0 || (await busyBackends(cluster.db, replica.appName)) > 0) {
      await sleep(10);
      continue;
    }
    tries += 1;
    replica.child.kill('SIGSTOP');
    if ((await busyBackends(cluster.db, replica.appName)) === 0) {
      const { rows } = await cluster.db.query<{ id: string }>(`select id from tasks where state = 'running' and lease_owner = $1`, [
        replica.worker,
      ]);
      if (rows.length > 0) return { heldLeases: rows.map((r) => r.id), tries };
    }
    replica.child.kill('SIGCONT');
  }
}

/** Tasks (or terminations) settled, by their finished_at, in [from, to). */
export function settledBetween(cluster: Cluster, from: number, to: number, table: 'tasks' | 'terminations' = 'tasks'): Promise<number> {
  return cluster.count(`select count(*) as n from ${table} where finished_at >= $1 and finished_at < $2`, [from, to]);
}

/** Waits until every task of the schema is settled; fails naming the states left. */
export async function waitAllSettled(cluster: Cluster, deadline: number, what: string): Promise<void> {
  for (;;) {
    if ((await cluster.count(BACKLOG_SQL)) === 0) return;
    if (Date.now() > deadline) {
      const { rows } = await cluster.db.query(`select state, count(*)::int as n from tasks group by state`);
      throw new Error(`${what}: tasks not settled by the deadline: ${JSON.stringify(rows)}`);
    }
    await sleep(100);
  }
}
