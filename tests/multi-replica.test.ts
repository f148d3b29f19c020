/**
 * Several replicas, one PostgreSQL queue, no task run twice: three `deprovisiond serve`
 * processes share one schema and one set of provider sandboxes (running in a process of
 * their own, so the providers' write counters outlive any replica). 500 terminations come
 * in over the signed webhook; one replica is killed with SIGKILL while it holds leases;
 * the others take its tasks over once the leases expire. Every task must succeed, and
 * the sandboxes' write counters must show each action executed once per subject, except
 * actions of tasks whose lease expired mid-flight: those re-executions are counted,
 * printed, and must be idempotent actions.
 *
 * Run policy (as tests/store/postgres.test.ts): with TEST_DATABASE_URL set it runs, and an
 * unreachable database fails it. Without it, a developer's run says so in one line and
 * skips; under CI (CI set, and not "false" or "0") the run fails instead.
 */
import { postgresSealedReader } from './helpers/sealed-reader.ts';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore, type PostgresStore } from '../src/store/postgres.ts';
import type { LeaseRenewal } from '../src/store/store.ts';
import { spawnDaemon, spawnSandboxes, type DaemonProcess, type SandboxProcess } from './helpers/processes.ts';
import { accountWrites, CRASH_RUN_STEPS } from './helpers/crash-run-playbook.ts';
import { describePostgres, newSchemaName, pgAdmin } from './helpers/postgres.ts';

const TERMINATIONS = 500;
const REPLICAS = 3;
const LEASE_MS = 2_000;
/** Kill the victim once this share of all tasks has succeeded (and it holds leases). */
const KILL_AFTER_SHARE = 0.2;
const RUN_DEADLINE_MS = 90_000;
/**
 * How long a step that must not wait (a heartbeat beside a held lock, a wake-up) gets
 * before it counts as blocked. What blocks it is held until the test ends, so a blocked
 * step never finishes in any window; the window only has to outlast a slow answer on a
 * loaded machine (3 s did not, at load 14 on two cores).
 */
const NOT_BLOCKED_WITHIN_MS = 15_000;
/** Webhooks in flight at once: enough that intake outpaces the engine and work queues up. */
const INTAKE_CONCURRENCY = 24;

const STEPS = CRASH_RUN_STEPS;

describePostgres('several replicas on one PostgreSQL queue', (databaseUrl) => {
  const newSchema = newSchemaName;
  const schemas: string[] = [];

  const admin = () => pgAdmin(databaseUrl);

  afterAll(async () => {
    if (schemas.length === 0) return;
    const client = await admin();
    try {
      for (const schema of schemas) await client.query(`drop schema if exists ${schema} cascade`);
    } finally {
      await client.end();
    }
  });

  describe('PostgreSQL migrations', () => {
    it('are applied once when several replicas migrate a fresh schema at once', async () => {
      const schema = newSchema('replica_migrate');
      schemas.push(schema);
      const stores = Array.from({ length: 5 }, () => createPostgresStore({ url: databaseUrl, schema, poolSize: 2 }));
      try {
        await Promise.all(stores.map((s) => s.migrate()));
        // A replica starting later finds nothing to do.
        await stores[0]!.migrate();
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
      const client = await admin();
      try {
        const { rows } = await client.query<{ name: string }>(`select name from ${schema}.kysely_migration order by name`);
        const names = rows.map((r) => r.name);
        expect(new Set(names).size).toBe(names.length);
        expect(names.length).toBeGreaterThan(0);
      } finally {
        await client.end();
      }
    });
  });

  describe('lease heartbeats on PostgreSQL', () => {
    it('renew every other lease while one task row is locked by its finishing transaction', async () => {
      // finishAttempt locks its task row first, then may wait for its termination's lock; a
      // heartbeat that waited behind it would let all the replica's other leases lapse.
      const schema = newSchema('replica_heartbeat');
      schemas.push(schema);
      const store = createPostgresStore({ url: databaseUrl, schema, poolSize: 2 });
      const locker = new pg.Client({ connectionString: databaseUrl, options: `-c search_path=${schema}` });
      try {
        await store.migrate();
        const now = Date.now();
        const ids = ['hb-finishing', 'hb-other-1', 'hb-other-2'];
        await seedRevocations(store, 'hb-termination', 'heartbeat@example.com', ids, now);
        const claimed = await store.claimDueTasks({ worker: 'w1', provider: 'okta', now: new Date(now), leaseMs: 2_000, limit: 10 });
        expect(claimed.map((t) => t.id).sort()).toEqual([...ids].sort());
        await locker.connect();
        await locker.query('begin');
        await locker.query(`update tasks set updated_at = updated_at where id = $1`, ['hb-finishing']);
        const before = Date.now();
        const renewed = await Promise.race([
          store.renewLeases('w1', claimed, 60_000),
          sleep(NOT_BLOCKED_WITHIN_MS).then(() => 'blocked' as const),
        ]);
        const after = Date.now();
        await locker.query('rollback');
        expect(renewed).not.toBe('blocked');
        const { renewed: extended, busy } = renewed as LeaseRenewal;
        expect([...extended].sort()).toEqual(ids.filter((id) => id !== 'hb-finishing').sort());
        // Locked, but still this worker's: not lost (the engine would stop its attempt).
        expect(busy).toEqual(['hb-finishing']);
        const { rows } = await locker.query<{ id: string; lease_expires_at: string }>(
          `select id, lease_expires_at from tasks where id <> 'hb-finishing' order by id`,
        );
        // Timed by the database's clock at the renewal (the same host's clock here).
        for (const row of rows) {
          expect(Number(row.lease_expires_at)).toBeGreaterThanOrEqual(before + 60_000 - 50);
          expect(Number(row.lease_expires_at)).toBeLessThanOrEqual(after + 60_000 + 50);
        }
      } finally {
        await locker.end().catch(() => undefined);
        await store.close();
      }
    });
  });

  describe('lease heartbeats on their own connection', () => {
    it('renew while every pooled connection is busy with work that waits on a lock', async () => {
      // A frozen replica's locks can hold every pooled connection of a healthy one (results
      // waiting to be recorded); a heartbeat queued behind them would let those leases lapse.
      const schema = newSchema('replica_heartbeat_pool');
      schemas.push(schema);
      const store = createPostgresStore({ url: databaseUrl, schema, poolSize: 1 });
      let release: () => void = () => undefined;
      const held = new Promise<void>((resolve) => (release = resolve));
      let busy: Promise<unknown> = Promise.resolve();
      try {
        await store.migrate();
        const now = Date.now();
        await seedRevocations(store, 'pool-termination', 'pool@example.com', ['pool-task'], now);
        const claimed = await store.claimDueTasks({ worker: 'w1', provider: 'okta', now: new Date(now), leaseMs: 2_000, limit: 1 });
        expect(claimed).toHaveLength(1);
        // The pool's one connection is taken by a transaction that waits.
        const pooled = (store as unknown as { db: { transaction(): { execute(fn: () => Promise<void>): Promise<void> } } }).db;
        let started: () => void = () => undefined;
        const inside = new Promise<void>((resolve) => (started = resolve));
        busy = pooled.transaction().execute(async () => {
          started();
          await held;
        });
        await inside;
        const renewed = await Promise.race([
          store.renewLeases('w1', claimed, 60_000),
          sleep(NOT_BLOCKED_WITHIN_MS).then(() => 'blocked' as const),
        ]);
        expect(renewed).toEqual({ renewed: ['pool-task'], busy: [] });
      } finally {
        release();
        await busy.catch(() => undefined);
        await store.close();
      }
    });
  });

  describe('released leases on PostgreSQL', () => {
    it("wake the other replicas, so a draining replica's tasks are taken over at once", async () => {
      const schema = newSchema('replica_release');
      schemas.push(schema);
      const stopping = createPostgresStore({ url: databaseUrl, schema, poolSize: 2 });
      const other = createPostgresStore({ url: databaseUrl, schema, poolSize: 2 });
      try {
        await stopping.migrate();
        const now = Date.now();
        await seedRevocations(stopping, 'rel-termination', 'release@example.com', ['rel-task'], now);
        const held = await stopping.claimDueTasks({ worker: 'w1', provider: 'okta', now: new Date(now), leaseMs: 60_000, limit: 1 });
        await other.whenListening();
        const woken = new Promise<'woken'>((resolve) => {
          const off = other.onWake(() => {
            off();
            resolve('woken');
          });
        });
        await stopping.releaseTasks('w1', held);
        expect(await Promise.race([woken, sleep(NOT_BLOCKED_WITHIN_MS).then(() => 'not woken' as const)])).toBe('woken');
        const [task] = await other.claimDueTasks({ worker: 'w2', provider: 'okta', now: new Date(), leaseMs: 60_000, limit: 1 });
        expect(task?.id).toBe('rel-task');
      } finally {
        await Promise.all([stopping.close(), other.close()]);
      }
    });
  });

  describe('several replicas on one PostgreSQL queue', () => {
    const schema = newSchema('replicas');
    /** The replicas' shared master key (src/store/open.ts refuses PostgreSQL without one). */
    const MASTER_KEY = Buffer.alloc(32, 4);
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    let dir: string;
    let sandboxes: SandboxProcess | undefined;
    const daemons: DaemonProcess[] = [];
    let db: pg.Pool | undefined;

    beforeAll(async () => {
      schemas.push(schema);
      // One clear cause when the database is down.
      await (await admin()).end();
      dir = mkdtempSync(join(tmpdir(), 'deprovisiond-replicas-'));
      sandboxes = await spawnSandboxes(['--kinds', 'okta,google']);
      const okta = sandboxes.sandboxes.okta!;
      const google = sandboxes.sandboxes.google!;
      // JSON is YAML: no quoting surprises in URLs or secrets.
      const config = {
        server: { host: '127.0.0.1', port: 0 },
        store: { postgres: { url: databaseUrl, schema, poolSize: 4 } },
        // Both replicas share the master key (src/store/open.ts refuses PostgreSQL without one).
        privacy: { masterKey: MASTER_KEY.toString('base64') },
        auth: { webhook: [secret] },
        engine: { lease: `${LEASE_MS}ms`, attemptTimeout: '10s', shutdownGrace: '2s' },
        providers: {
          // Real provider settings pointing at the external sandboxes, not `sandbox:` blocks.
          okta: { kind: 'okta', ...okta.settings, limits: { concurrency: 16 } },
          google: { kind: 'google', ...google.settings, limits: { concurrency: 16 } },
        },
        playbooks: {
          leaver: { steps: STEPS.map(({ writes: _writes, ...step }) => step) },
        },
        defaultPlaybook: 'leaver',
      };
      const file = join(dir, 'config.yaml');
      writeFileSync(file, JSON.stringify(config, null, 2));
      // All replicas start at once on a fresh schema: the migrations race, as in a rollout.
      const started = await Promise.allSettled(Array.from({ length: REPLICAS }, () => spawnDaemon(file, { LOG_LEVEL: 'info' })));
      for (const result of started) if (result.status === 'fulfilled') daemons.push(result.value);
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      db = new pg.Pool({ connectionString: databaseUrl, max: 2, options: `-c search_path=${schema}` });
    }, 90_000);

    afterAll(async () => {
      await Promise.allSettled(daemons.map((d) => d.stop('SIGTERM', 5_000)));
      await sandboxes?.stop('SIGTERM', 2_000);
      await db?.end();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }, 30_000);

    const count = async (query: string, params: unknown[] = []): Promise<number> => {
      const { rows } = await db!.query<{ n: string }>(query, params);
      return Number(rows[0]?.n ?? 0);
    };

    it('runs 500 terminations on 3 replicas, survives a SIGKILL mid-run, and executes each action once', async () => {
      const runStarted = Date.now();
      const [victim, ...survivors] = daemons;
      expect(victim).toBeDefined();
      expect(new Set(daemons.map((d) => d.worker)).size).toBe(REPLICAS);
      const totalTasks = TERMINATIONS * STEPS.length;

      // Intake over HTTP, through the survivors (the victim must not be mid-request when it dies);
      // every replica's scheduler gets the work through NOTIFY.
      const signer = new Webhook(secret);
      const runId = randomBytes(3).toString('hex');
      let next = 0;
      const submitted: string[] = [];
      const submit = async () => {
        for (let i = next++; i < TERMINATIONS; i = next++) {
          const email = `leaver-${runId}-${i}@example.com`;
          const body = JSON.stringify({ subject: { userName: email, emails: [email] }, reason: 'multi-replica test' });
          const id = `msg_${runId}_${i}`;
          const target = survivors[i % survivors.length]!;
          // One instant for the header and the signature: read twice, a second boundary
          // between the reads signed another timestamp than the header sent (a 401).
          const at = new Date();
          const res = await fetch(`${target.url}/webhooks/termination`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'webhook-id': id,
              'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
              'webhook-signature': signer.sign(id, at, body),
            },
            body,
          });
          const answer = (await res.json()) as { terminationId?: string };
          if (res.status !== 201 || !answer.terminationId) throw new Error(`webhook ${i}: ${res.status} ${JSON.stringify(answer)}`);
          submitted.push(answer.terminationId);
        }
      };
      let intakeDoneAt: number | null = null;
      const intake = Promise.all(Array.from({ length: INTAKE_CONCURRENCY }, submit)).then(() => {
        intakeDoneAt = Date.now();
      });
      // Surface an intake failure at once instead of at the deadline.
      let intakeError: unknown = null;
      intake.catch((error: unknown) => (intakeError = error));

      // Kill the victim with SIGKILL once some work succeeded and while it holds leases.
      const killDeadline = Date.now() + 60_000;
      for (;;) {
        if (intakeError) throw intakeError;
        const succeeded = await count(`select count(*) as n from tasks where state = 'succeeded'`);
        const held = await count(`select count(*) as n from tasks where state = 'running' and lease_owner = $1`, [victim!.worker]);
        if (succeeded >= totalTasks * KILL_AFTER_SHARE && held > 0) break;
        if (Date.now() > killDeadline) throw new Error(`no moment to kill: ${succeeded} succeeded, victim holds ${held}`);
        await sleep(25);
      }
      // The victim's leases just before the kill and just after it: on a slow machine
      // another replica may reclaim a task (LEASE_MS) before the second look, and a task
      // claimed in between shows only in the second.
      const heldBeforeKill = await db!.query<{ id: string }>(`select id from tasks where state = 'running' and lease_owner = $1`, [
        victim!.worker,
      ]);
      const killedAt = Date.now();
      victim!.child.kill('SIGKILL');
      expect(await victim!.exited).toBe('SIGKILL');
      const heldAfterKill = await db!.query<{ id: string }>(`select id from tasks where state = 'running' and lease_owner = $1`, [
        victim!.worker,
      ]);
      const orphaned = [...new Map([...heldBeforeKill.rows, ...heldAfterKill.rows].map((r) => [r.id, r])).values()];
      const succeededAtKill = await count(`select count(*) as n from tasks where state = 'succeeded'`);
      expect(orphaned.length).toBeGreaterThan(0);
      const orphanIds = orphaned.map((r) => r.id);

      // Watch the takeover: when no task names the dead worker any more, and when its tasks finished.
      let reclaimedAt: number | null = null;
      let orphansDoneAt: number | null = null;
      const deadline = runStarted + RUN_DEADLINE_MS;
      for (;;) {
        if (intakeError) throw intakeError;
        const now = Date.now();
        if (reclaimedAt === null && (await count(`select count(*) as n from tasks where lease_owner = $1`, [victim!.worker])) === 0) {
          reclaimedAt = now;
        }
        if (
          orphansDoneAt === null &&
          (await count(`select count(*) as n from tasks where id = any($1) and state = 'succeeded'`, [orphanIds])) === orphanIds.length
        ) {
          orphansDoneAt = now;
        }
        const completed = await count(`select count(*) as n from terminations where state = 'completed'`);
        const unfinished = await count(
          `select count(*) as n from tasks where state not in ('succeeded', 'skipped', 'cancelled', 'failed')`,
        );
        if (submitted.length === TERMINATIONS && completed === TERMINATIONS && unfinished === 0 && orphansDoneAt !== null) break;
        if (now > deadline) {
          const states = await db!.query(`select state, count(*) as n from tasks group by state`);
          throw new Error(
            `not finished after ${RUN_DEADLINE_MS} ms: ${submitted.length} submitted, ${completed} completed, tasks ${JSON.stringify(states.rows)}`,
          );
        }
        await sleep(50);
      }
      await intake;
      const finishedAt = Date.now();

      // Every termination completed and every task succeeded.
      const terminations = await db!.query<{ state: string; n: string }>(`select state, count(*) as n from terminations group by state`);
      expect(terminations.rows.map((r) => [r.state, Number(r.n)])).toEqual([['completed', TERMINATIONS]]);
      const stored = await db!.query<{ id: string; termination_id: string; step_id: string; state: string; account: string | null }>(
        `select id, termination_id, step_id, state, account from tasks`,
      );
      // Accounts are sealed at rest (docs/privacy.md): opened with the replicas' keys.
      const tasks = { rows: (await postgresSealedReader(db!, schema, MASTER_KEY)).withAccounts(stored.rows) };
      expect(tasks.rows.length).toBe(totalTasks);
      expect(tasks.rows.filter((t) => t.state !== 'succeeded')).toEqual([]);

      // Tasks whose lease expired while an execution was under way: the dead replica's, and
      // any a live replica lost (its late attempt is on record next to the new holder's).
      const { rows: multiWorker } = await db!.query<{ task_id: string }>(
        `select task_id from task_attempts group by task_id having count(distinct worker) > 1`,
      );
      const leaseLost = new Set([...orphanIds, ...multiWorker.map((r) => r.task_id)]);
      const { rows: lostAttempts } = await db!.query<{
        task_id: string;
        step_id: string;
        worker: string;
        started_at: string;
        finished_at: string;
        outcome: string;
      }>(
        `select a.task_id, t.step_id, a.worker, a.started_at, a.finished_at, a.outcome
             from task_attempts a join tasks t on t.id = a.task_id
            where a.task_id = any($1) order by a.task_id, a.id`,
        [multiWorker.map((r) => r.task_id)],
      );

      // The sandboxes' write counters against what one execution per task writes.
      const writes = {
        okta: await sandboxState(sandboxes!.sandboxes.okta!.url),
        google: await sandboxState(sandboxes!.sandboxes.google!.url),
      };
      const { missing, unexpected, duplicates } = accountWrites(tasks.rows, writes, leaseLost);
      const leaseDuplicates = duplicates.reduce((n, d) => n + d.extra, 0);
      const duplicatesByOperation: Record<string, number> = {};
      for (const d of duplicates) duplicatesByOperation[d.operation] = (duplicatesByOperation[d.operation] ?? 0) + d.extra;

      const reclaimMs = (reclaimedAt ?? finishedAt) - killedAt;
      const orphansDoneMs = (orphansDoneAt ?? finishedAt) - killedAt;
      console.log(
        [
          `multi-replica: ${TERMINATIONS} terminations (${totalTasks} tasks) on ${REPLICAS} replicas, lease ${LEASE_MS} ms`,
          `  intake: ${TERMINATIONS} signed webhooks answered 201 within ${(intakeDoneAt ?? finishedAt) - runStarted} ms`,
          `  SIGKILL after ${killedAt - runStarted} ms with ${succeededAtKill}/${totalTasks} tasks succeeded; the dead replica held ${orphanIds.length} task(s)`,
          `  its tasks reclaimed ${reclaimMs} ms after the kill, all succeeded ${orphansDoneMs} ms after it`,
          `  tasks with attempts from more than one replica (a live replica lost the lease): ${multiWorker.length}`,
          ...lostAttempts.map(
            (a) =>
              `    ${a.step_id} ${a.task_id.slice(0, 8)} by ${a.worker.split(':').at(-1)}: ${a.outcome}, ` +
              `${Number(a.started_at) - runStarted}..${Number(a.finished_at) - runStarted} ms`,
          ),
          `  duplicate executions after lease expiry: ${leaseDuplicates} (all idempotent)${
            leaseDuplicates > 0 ? ` ${JSON.stringify(duplicatesByOperation)}` : ''
          }`,
          `  every termination completed ${finishedAt - runStarted} ms after the first webhook`,
        ].join('\n'),
      );
      expect(missing).toEqual([]);
      expect(unexpected).toEqual([]);
      // The takeover waits for the lease, and not much longer.
      expect(reclaimMs).toBeLessThan(LEASE_MS + 10_000);
    }, 120_000);
  });
});

async function sandboxState(baseUrl: string): Promise<Record<string, number>> {
  const res = await fetch(`${baseUrl}/__sandbox/state`);
  if (!res.ok) throw new Error(`sandbox state at ${baseUrl}: ${res.status}`);
  return ((await res.json()) as { writes: Record<string, number> }).writes;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One scheduled termination whose tasks revoke Okta sessions, due `now`: what the lease tests claim. */
async function seedRevocations(store: PostgresStore, id: string, email: string, taskIds: string[], now: number): Promise<void> {
  await store.createTermination(
    {
      id,
      source: 'admin',
      sourceEventId: null,
      subjectKey: `email:${email}`,
      subject: { emails: [email] },
      reason: null,
      playbook: 'p',
      state: 'scheduled',
      requestedAt: new Date(now),
      effectiveAt: new Date(now),
      createdBy: 'test',
    },
    taskIds.map((task) => ({
      id: task,
      stepId: task,
      provider: 'okta',
      action: 'revoke_sessions' as const,
      params: {},
      critical: true,
      dependsOn: [],
      notBefore: new Date(now),
    })),
  );
}
