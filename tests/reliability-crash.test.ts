/**
 * Crash safety: `deprovisiond serve` as a child process takes 2,000 terminations over
 * signed webhooks and SCIM (PATCH active=false and DELETE, mixed) from clients that retry
 * until acknowledged, and is killed with SIGKILL at random moments (CRASH_KILLS, at least
 * 3), restarted each time on the same store and port. The provider sandboxes run in a
 * process of their own (scripts/sandboxes.ts), so their write counters outlive each kill.
 *
 * Afterwards: every acknowledged termination exists (and no other), every task ended
 * succeeded, the write counters show each action executed once per subject except actions
 * of tasks caught in flight by a kill (those may repeat only if idempotent: counted and
 * printed), the store's integrity holds (SQLite `PRAGMA integrity_check`, PostgreSQL
 * referential checks) and the audit chain verifies.
 *
 * Knobs: CRASH_TERMINATIONS (2000), CRASH_KILLS (3), CRASH_SEED (random, printed).
 */
import { postgresSealedReader, sealedReader, type SealedReader } from './helpers/sealed-reader.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../src/audit/verify.ts';
import { createPostgresStore } from '../src/store/postgres.ts';
import { createSqliteStore } from '../src/store/sqlite.ts';
import type { Store } from '../src/store/store.ts';
import { spawnDaemon, spawnSandboxes, type DaemonProcess, type SandboxProcess } from './helpers/processes.ts';
import {
  describePostgres,
  dropSchema,
  freePort,
  intakeClients,
  newSchemaName,
  pgAdmin,
  sandboxWrites,
  seeded,
  sleep,
  type Acknowledged,
} from './helpers/reliability.ts';
import { accountWrites, CRASH_RUN_STEPS } from './helpers/crash-run-playbook.ts';

const TERMINATIONS = Number(process.env.CRASH_TERMINATIONS ?? 2000);
const KILLS = Math.max(3, Number(process.env.CRASH_KILLS ?? 3));
const LEASE_MS = 2_000;
const INTAKE_CONCURRENCY = 16;
// A bound so the run stops by itself, not a speed target: about 55 s on an idle 2-core
// machine, past 150 s for PostgreSQL on a heavily shared one.
const RUN_DEADLINE_MS = 300_000;

const STEPS = CRASH_RUN_STEPS;

const SCIM_TOKEN = 'crash-scim-token-0123456789abcdef';
const WEBHOOK_SECRET = 'whsec_Y3Jhc2gtdGVzdC13ZWJob29rLXNlY3JldC0xMjM0';

/** The store under test, as the harness (not the daemon) sees it. */
interface Backend {
  name: string;
  storeConfig: Record<string, unknown>;
  /** `?` placeholders. */
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Integrity problems found, [] when none. */
  integrity(): Promise<string[]>;
  openStore(): Store;
  /** Opens the store's sealed columns with the daemon's keys. */
  sealed(): Promise<SealedReader>;
  close(): Promise<void>;
}

/** The daemon's master key (config `privacy.masterKey`). */
const MASTER_KEY = Buffer.alloc(32, 3);

function sqliteBackend(dir: string): Backend {
  const path = join(dir, 'store.db');
  let db: BetterSqlite3.Database | null = null;
  // Opened on first use (the daemon creates the file); read-only, so the harness never writes.
  const open = () => (db ??= new BetterSqlite3(path, { readonly: true, fileMustExist: true }));
  return {
    name: 'SQLite',
    storeConfig: { sqlite: { path } },
    async query<R>(sql: string, params: unknown[] = []) {
      return open()
        .prepare(sql)
        .all(...params) as R[];
    },
    async integrity() {
      const rows = open().pragma('integrity_check') as Array<{ integrity_check: string }>;
      const fk = open().pragma('foreign_key_check') as unknown[];
      const problems = rows.map((r) => r.integrity_check).filter((r) => r !== 'ok');
      if (fk.length > 0) problems.push(`${fk.length} foreign key violation(s)`);
      return problems;
    },
    openStore: () => createSqliteStore(path, undefined, { privacy: { masterKey: MASTER_KEY } }),
    sealed: () => sealedReader(path, MASTER_KEY),
    async close() {
      db?.close();
    },
  };
}

function postgresBackend(url: string, schema: string): Backend {
  const pool = new pg.Pool({ connectionString: url, max: 2, options: `-c search_path=${schema}` });
  const toPg = (sql: string) => {
    let n = 0;
    return sql.replace(/\?/g, () => `$${++n}`);
  };
  return {
    name: 'PostgreSQL',
    storeConfig: { postgres: { url, schema, poolSize: 6 } },
    async query<R>(sql: string, params: unknown[] = []) {
      return (await pool.query(toPg(sql), params)).rows as R[];
    },
    async integrity() {
      // No integrity_check in PostgreSQL: check what a torn write would break instead.
      const problems: string[] = [];
      const checks: Array<[string, string]> = [
        [
          'tasks without their termination',
          `select count(*) as n from tasks t left join terminations x on x.id = t.termination_id where x.id is null`,
        ],
        [
          'attempts without their task',
          `select count(*) as n from task_attempts a left join tasks t on t.id = a.task_id where t.id is null`,
        ],
        [
          'dependencies on missing tasks',
          `select count(*) as n from task_dependencies d left join tasks t on t.id = d.depends_on_task_id where t.id is null`,
        ],
        [
          'terminations without tasks',
          `select count(*) as n from terminations x where not exists (select 1 from tasks t where t.termination_id = x.id)`,
        ],
        ['duplicate audit sequence numbers', `select count(*) - count(distinct seq) as n from audit_log`],
      ];
      for (const [what, sql] of checks) {
        const n = Number((await pool.query<{ n: string }>(sql)).rows[0]?.n ?? 0);
        if (n !== 0) problems.push(`${n} ${what}`);
      }
      return problems;
    },
    openStore: () => createPostgresStore({ url, schema, poolSize: 2, privacy: { masterKey: MASTER_KEY } }),
    sealed: () => postgresSealedReader(pool, schema, MASTER_KEY),
    async close() {
      await pool.end();
    },
  };
}

interface KillRecord {
  atMs: number;
  acknowledged: number;
  succeededTasks: number;
  inFlight: string[];
}

function crashSuite(makeBackend: (dir: string) => Backend, cleanup: () => Promise<void> = async () => undefined) {
  let dir: string;
  let backend: Backend;
  let sandboxes: SandboxProcess | undefined;
  let daemon: DaemonProcess | undefined;
  let configFile: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-crash-'));
    backend = makeBackend(dir);
    sandboxes = await spawnSandboxes(['--kinds', 'okta,google']);
    const port = await freePort();
    const config = {
      server: { host: '127.0.0.1', port },
      store: backend.storeConfig,
      // The same key across the crashes (src/store/open.ts refuses PostgreSQL without one).
      privacy: { masterKey: MASTER_KEY.toString('base64') },
      auth: { scim: [SCIM_TOKEN], webhook: [WEBHOOK_SECRET] },
      engine: { lease: `${LEASE_MS}ms`, attemptTimeout: '10s', shutdownGrace: '1s', retry: { baseDelay: '100ms', maxDelay: '1s' } },
      providers: {
        okta: { kind: 'okta', ...sandboxes.sandboxes.okta!.settings, limits: { concurrency: 16 } },
        google: { kind: 'google', ...sandboxes.sandboxes.google!.settings, limits: { concurrency: 16 } },
      },
      playbooks: { leaver: { steps: STEPS.map(({ writes: _writes, ...step }) => step) } },
      defaultPlaybook: 'leaver',
    };
    configFile = join(dir, 'config.yaml');
    writeFileSync(configFile, JSON.stringify(config, null, 2));
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop('SIGTERM', 3_000);
    await sandboxes?.stop('SIGTERM', 2_000);
    await backend?.close();
    await cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const count = async (sql: string, params: unknown[] = []) =>
    Number((await backend.query<{ n: number | string }>(sql, params))[0]?.n ?? 0);

  it(
    `keeps every acknowledged termination and runs each action once across ${KILLS}+ SIGKILLs`,
    async () => {
      const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 1_000_000));
      const random = seeded(seed);
      const startedAt = Date.now();
      const deadline = startedAt + RUN_DEADLINE_MS;
      daemon = await spawnDaemon(configFile, { LOG_LEVEL: 'info' });
      const baseUrl = daemon.url;
      const clients = intakeClients({ baseUrl: () => baseUrl, scimToken: SCIM_TOKEN, webhookSecret: WEBHOOK_SECRET, deadline });

      // Intake: the mix is fixed by index, so every run has the same number of each.
      const runId = `${seed}`;
      const acks: Acknowledged[] = [];
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < TERMINATIONS; i = next++) {
          const email = `crash-${runId}-${i}@example.com`;
          const kind = i % 4;
          acks.push(
            kind === 0 || kind === 2
              ? await clients.webhook(i, email, `msg_${runId}_${i}`)
              : await clients.scim(i, email, kind === 1 ? 'scim-patch' : 'scim-delete'),
          );
        }
      };
      let intakeError: unknown = null;
      let intakeDoneAt: number | null = null;
      const intake = Promise.all(Array.from({ length: INTAKE_CONCURRENCY }, worker)).then(
        () => void (intakeDoneAt = Date.now()),
        (error: unknown) => void (intakeError = error),
      );

      // The killer: KILLS times, a random moment 0.5-4 s after the daemon came up.
      const kills: KillRecord[] = [];
      const workers = [daemon.worker];
      let restartMs = 0;
      for (let k = 0; k < KILLS; k += 1) {
        await sleep(500 + Math.floor(random() * 3_500));
        if (intakeError) throw intakeError;
        const victim = daemon;
        victim.child.kill('SIGKILL');
        expect(await victim.exited).toBe('SIGKILL');
        // The dead worker's leases stay in the table until they expire: those tasks were caught in flight.
        const inFlight = (
          await backend.query<{ id: string }>(`select id from tasks where state = 'running' and lease_owner = ?`, [victim.worker])
        ).map((r) => r.id);
        kills.push({
          atMs: Date.now() - startedAt,
          acknowledged: acks.length,
          succeededTasks: await count(`select count(*) as n from tasks where state = 'succeeded'`),
          inFlight,
        });
        const restartAt = Date.now();
        daemon = await spawnDaemon(configFile, { LOG_LEVEL: 'info' });
        restartMs = Math.max(restartMs, Date.now() - restartAt);
        expect(daemon.url).toBe(baseUrl);
        workers.push(daemon.worker);
      }

      // Let the last incarnation finish everything.
      const totalTasks = TERMINATIONS * STEPS.length;
      for (;;) {
        if (intakeError) throw intakeError;
        const completed = await count(`select count(*) as n from terminations where state = 'completed'`);
        if (intakeDoneAt !== null && completed >= TERMINATIONS) break;
        if (Date.now() > deadline) {
          const states = await backend.query(`select state, count(*) as n from tasks group by state`);
          throw new Error(
            `not finished after ${RUN_DEADLINE_MS} ms: ${acks.length} acknowledged, ${completed} completed, tasks ${JSON.stringify(states)}`,
          );
        }
        await sleep(100);
      }
      await intake;
      const finishedAt = Date.now();
      await daemon.stop('SIGTERM', 5_000);
      daemon = undefined;

      // 1. Every acknowledged termination exists, and nothing else does.
      expect(acks.length).toBe(TERMINATIONS);
      const terminations = await backend.query<{ id: string; source_event_id: string | null; state: string }>(
        `select id, source_event_id, state from terminations`,
      );
      const byId = new Map(terminations.map((t) => [t.id, t]));
      const bySourceUser = new Map(
        terminations.filter((t) => t.source_event_id?.startsWith('Users/')).map((t) => [t.source_event_id!.split('/')[1]!, t]),
      );
      const lost = acks.filter((a) => (a.via === 'webhook' ? !byId.has(a.terminationId!) : !bySourceUser.has(a.userId!)));
      expect(lost).toEqual([]);
      expect(terminations.length).toBe(TERMINATIONS);
      expect(terminations.filter((t) => t.state !== 'completed')).toEqual([]);

      // 2. Every task ended succeeded.
      // Accounts are sealed at rest (docs/privacy.md): opened with the daemon's keys.
      const tasks = (await backend.sealed()).withAccounts(
        await backend.query<{ id: string; termination_id: string; step_id: string; state: string; account: string | null }>(
          `select id, termination_id, step_id, state, account from tasks`,
        ),
      );
      expect(tasks.length).toBe(totalTasks);
      expect(tasks.filter((t) => t.state !== 'succeeded').map((t) => `${t.step_id} ${t.id}: ${t.state}`)).toEqual([]);

      // 3. The write counters: once per subject, except tasks caught in flight (idempotent actions only).
      const caught = new Set(kills.flatMap((k) => k.inFlight));
      const multiWorker = await backend.query<{ task_id: string }>(
        `select task_id from task_attempts group by task_id having count(distinct worker) > 1`,
      );
      for (const row of multiWorker) caught.add(row.task_id);
      const writes = {
        okta: await sandboxWrites(sandboxes!.sandboxes.okta!.url),
        google: await sandboxWrites(sandboxes!.sandboxes.google!.url),
      };
      const { missing, unexpected, duplicates } = accountWrites(tasks, writes, caught);

      // 4. Integrity and the audit chain.
      const problems = await backend.integrity();
      const store = backend.openStore();
      const chain = await verifyAuditChain((after, limit) => store.listAudit(after, limit)).finally(() => store.close());

      const retried = acks.filter((a) => a.retries > 0).length;
      const extraWrites = duplicates.reduce((n, d) => n + d.extra, 0);
      const byOperation: Record<string, number> = {};
      for (const d of duplicates) byOperation[d.operation] = (byOperation[d.operation] ?? 0) + d.extra;
      console.log(
        [
          `reliability-crash (${backend.name}, seed ${seed}): ${TERMINATIONS} terminations (${acks.filter((a) => a.via === 'webhook').length} webhook, ` +
            `${acks.filter((a) => a.via === 'scim-patch').length} SCIM PATCH, ${acks.filter((a) => a.via === 'scim-delete').length} SCIM DELETE), ${totalTasks} tasks, lease ${LEASE_MS} ms`,
          ...kills.map(
            (k, i) =>
              `  SIGKILL ${i + 1} at ${k.atMs} ms: ${k.acknowledged} acknowledged, ${k.succeededTasks} tasks succeeded, ${k.inFlight.length} task(s) in flight`,
          ),
          `  restarts: ${kills.length} (slowest ${restartMs} ms to "started"); requests answered only after a retry: ${retried}`,
          `  intake done at ${(intakeDoneAt ?? finishedAt) - startedAt} ms, all completed at ${finishedAt - startedAt} ms`,
          `  acknowledged but missing: ${lost.length}; tasks not succeeded: 0; writes missing: ${missing.length}; unexpected writes: ${unexpected.length}`,
          `  tasks caught in flight by a kill: ${caught.size}; of them re-executed: ${new Set(duplicates.map((d) => d.taskId)).size} ` +
            `(${extraWrites} repeated idempotent write(s) ${JSON.stringify(byOperation)})`,
          `  integrity: ${problems.length === 0 ? 'ok' : problems.join('; ')}; audit chain: ${chain.ok ? `ok (${chain.entries} entries)` : chain.detail}`,
        ].join('\n'),
      );
      expect(missing).toEqual([]);
      expect(unexpected).toEqual([]);
      expect(problems).toEqual([]);
      expect(chain.ok).toBe(true);
      expect(kills.length).toBeGreaterThanOrEqual(3);
    },
    RUN_DEADLINE_MS + 60_000,
  );
}

describe('crash safety on SQLite', () => {
  crashSuite((dir) => sqliteBackend(dir));
});

describePostgres('crash safety on PostgreSQL', (url) => {
  const schema = newSchemaName('crash');
  beforeAll(async () => {
    // One clear cause when the database is down.
    await (await pgAdmin(url)).end();
  });
  crashSuite(
    () => postgresBackend(url, schema),
    () => dropSchema(url, schema),
  );
});
