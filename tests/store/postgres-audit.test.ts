/**
 * What only PostgreSQL can show about the audit chain and the locks around it: replicas
 * whose transactions overlap, a replica frozen inside a transaction, and the session
 * timeouts that bound every wait (invariants 6 and 8, issue 33).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/audit/verify.ts';
import { createPostgresStore, DEFAULT_PG_TIMEOUTS, type PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres.ts';
import type { Database } from '../../src/store/schema.ts';
import type { StoreContext, Tx } from '../../src/store/sql/context.ts';
import { describePostgres } from '../helpers/postgres.ts';
import { postgresBackend } from './backends.ts';
import { expectLinearChain, newTask, newTermination } from './suite.ts';

describePostgres('PostgreSQL audit chain and locks', (url) => {
  const backend = postgresBackend(url);
  let db: Awaited<ReturnType<typeof backend.open>>;
  const extra: PostgresStore[] = [];

  beforeEach(async () => {
    db = await backend.open(() => new Date());
  });
  afterEach(async () => {
    await Promise.all(extra.splice(0).map((s) => s.close()));
    await db?.dispose();
  });

  /** Another replica on this test's schema, with its own pool and settings. */
  const replica = (options: Partial<PostgresStoreOptions> = {}) => {
    const store = createPostgresStore({ url, schema: db.schema, poolSize: 2, ...options });
    extra.push(store);
    return store;
  };
  const kysely = (store: PostgresStore) => (store as unknown as { db: Kysely<Database> }).db;
  const hooks = (store: PostgresStore) => (store as unknown as { ctx: StoreContext }).ctx.hooks;

  /**
   * Runs `inside` in a transaction of `store` and keeps the transaction open (as a replica
   * frozen mid-transaction would) until `release()`. `settled` rejects if PostgreSQL ended it.
   */
  async function holdOpen(store: PostgresStore, inside: (trx: Tx) => Promise<void>) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const ready = new Promise<void>((resolve) => (entered = resolve));
    const settled = kysely(store)
      .transaction()
      .execute(async (trx) => {
        await inside(trx);
        entered();
        await released;
      });
    settled.catch(() => undefined);
    await Promise.race([ready, settled]);
    return { release, settled };
  }

  const within = <T>(promise: Promise<T>, ms: number) =>
    Promise.race([promise.then(() => 'done' as const), sleep(ms).then(() => 'still waiting' as const)]);

  it('lets a replica append and commit while another replica holds an append open', async () => {
    const [a, b] = await db.replicas(2);
    const held = await holdOpen(a!, (trx) => a!.audit.append(trx, { actor: 'replica-a', action: 'test.held_open' }));
    try {
      // Before: every append took the chain lock, so this waited for replica a's commit.
      expect(await within(b!.appendAudit({ actor: 'replica-b', action: 'test.not_blocked' }), 3_000)).toBe('done');
    } finally {
      held.release();
      await held.settled;
    }
    await b!.linkAudit();
    expectLinearChain(await db.store.listAudit(0, 10));
  });

  it('links an entry whose seq committed after a later one, next in the chain, without a gap', async () => {
    const [a, b] = await db.replicas(2);
    const held = await holdOpen(a!, (trx) => a!.audit.append(trx, { actor: 'replica-a', action: 'test.lower_seq_commits_late' }));
    await b!.appendAudit({ actor: 'replica-b', action: 'test.higher_seq_commits_first' });
    expect(await b!.linkAudit()).toEqual({ linked: 1 });
    held.release();
    await held.settled;
    expect(await b!.linkAudit()).toEqual({ linked: 1 });

    const entries = await db.store.listAudit(0, 10);
    expectLinearChain(entries);
    expect(entries.map((e) => e.action)).toEqual(['test.higher_seq_commits_first', 'test.lower_seq_commits_late']);
    expect(entries[0]!.seq).toBeGreaterThan(entries[1]!.seq);
    expect(await verifyAuditChain((after, limit) => db.store.listAudit(after, limit))).toMatchObject({ ok: true, entries: 2, unlinked: 0 });
  });

  it('hands the linker to another replica when the one holding it freezes mid-transaction', async () => {
    const frozen = replica({ timeouts: { idleInTransactionMs: 600 } });
    const [other] = await db.replicas(1);
    await other!.appendAudit({ actor: 'admin:alice', action: 'test.before_freeze' });
    const held = await holdOpen(frozen, async (trx) => {
      expect(await hooks(frozen).tryLockAuditLinker(trx)).toBe(true);
    });
    await other!.appendAudit({ actor: 'admin:alice', action: 'test.during_freeze' });
    const started = Date.now();
    // Waits while the frozen replica holds the lock, then links once PostgreSQL ends that session.
    expect(await other!.linkAudit()).toEqual({ linked: 2 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    // The frozen replica, resumed, finds its session ended: its commit fails and links nothing.
    held.release();
    await expect(held.settled).rejects.toThrow();
    expectLinearChain(await db.store.listAudit(0, 10));
  });

  it('holds up only the one termination a frozen replica locked, and only for lock_timeout', async () => {
    const [worker] = await db.replicas(1);
    const impatient = replica({ timeouts: { lockMs: 300 } });
    const frozenCase = newTermination(Date.now());
    const otherCase = newTermination(Date.now());
    const task = newTask('disable', { notBefore: new Date(0) });
    await db.store.createTermination(frozenCase, [newTask('disable', { notBefore: new Date(0) })]);
    await db.store.createTermination(otherCase, [task]);
    const held = await holdOpen(db.store, (trx) => hooks(db.store).lockTermination(trx, frozenCase.id));
    try {
      const [claimed] = (
        await worker!.claimDueTasks({ worker: 'w1', provider: 'okta', now: new Date(), leaseMs: 60_000, limit: 10 })
      ).filter((t) => t.id === task.id);
      expect(claimed).toBeDefined();
      const at = new Date();
      const finished = worker!.finishAttempt(
        'w1',
        claimed!,
        { state: 'succeeded', evidence: {}, account: null },
        {
          taskId: task.id,
          attempt: 1,
          worker: 'w1',
          startedAt: at,
          finishedAt: at,
          outcome: 'succeeded',
          errorKind: null,
          errorMessage: null,
          evidence: null,
        },
      );
      expect(await within(finished, 3_000)).toBe('done');
      expect(await finished).toBe(true);
      expect((await db.store.getTermination(otherCase.id))!.state).toBe('completed');
      // The frozen termination's own waiter gives up at lock_timeout instead of hanging.
      await expect(impatient.cancelTermination(frozenCase.id, 'admin:alice', 'rehired')).rejects.toMatchObject({ code: '55P03' });
    } finally {
      held.release();
      await held.settled;
    }
    expect((await worker!.cancelTermination(frozenCase.id, 'admin:alice', 'rehired'))!.state).toBe('cancelled');
  });

  it('lets a healthy replica settle a task of the termination a frozen replica locked once that session is ended, keeping its result', async () => {
    // Defaults on both sides: the waiter's lock_timeout outlasts the frozen session's idle_in_transaction_session_timeout.
    const [worker, frozen] = await db.replicas(2);
    const task = newTask('disable', { notBefore: new Date(0) });
    const t = newTermination(Date.now());
    await db.store.createTermination(t, [task]);
    const [claimed] = await worker!.claimDueTasks({ worker: 'w1', provider: 'okta', now: new Date(), leaseMs: 60_000, limit: 10 });
    const held = await holdOpen(frozen!, (trx) => hooks(frozen!).lockTermination(trx, t.id));
    const at = new Date();
    const started = Date.now();
    try {
      const applied = await worker!.finishAttempt(
        'w1',
        claimed!,
        { state: 'succeeded', evidence: { verified: true }, account: null },
        {
          taskId: task.id,
          attempt: 1,
          worker: 'w1',
          startedAt: at,
          finishedAt: at,
          outcome: 'succeeded',
          errorKind: null,
          errorMessage: null,
          evidence: null,
        },
      );
      expect(applied).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(DEFAULT_PG_TIMEOUTS.idleInTransactionMs - 500);
      expect((await db.store.getTask(task.id))!.state).toBe('succeeded');
    } finally {
      held.release();
    }
    await expect(held.settled).rejects.toThrow();
  }, 20_000);

  it('bounds every session: lock, statement and idle-in-transaction timeouts, and names the replica', async () => {
    const store = replica({ timeouts: { lockMs: 1_500 } });
    const { rows } = await kysely(store)
      .selectNoFrom((eb) => [
        eb.fn<string>('current_setting', [eb.val('lock_timeout')]).as('lock'),
        eb.fn<string>('current_setting', [eb.val('statement_timeout')]).as('statement'),
        eb.fn<string>('current_setting', [eb.val('idle_in_transaction_session_timeout')]).as('idle'),
        eb.fn<string>('current_setting', [eb.val('application_name')]).as('name'),
      ])
      .execute()
      .then((r) => ({ rows: r }));
    expect(rows[0]).toEqual({ lock: '1500ms', statement: '10s', idle: '5s', name: `deprovisiond/${process.pid}` });
  });

  it('migrates while another replica holds the migration lock longer than the statement timeout', async () => {
    // A replica migrating (Kysely's advisory lock held) while this one starts: it must wait, not fail.
    const schema = `${db.schema}_m`;
    const first = createPostgresStore({ url, schema, poolSize: 1 });
    const second = createPostgresStore({ url, schema, poolSize: 1, timeouts: { lockMs: 200, statementMs: 300 } });
    extra.push(first, second);
    const admin = await backend.admin();
    try {
      await admin.query('select pg_advisory_lock(3853314791062309107)');
      const migrating = second.migrate();
      await sleep(800);
      await admin.query('select pg_advisory_unlock(3853314791062309107)');
      await migrating;
      await first.migrate();
      await second.appendAudit({ actor: 'admin:alice', action: 'test.after_migration' });
      expect(await second.linkAudit()).toEqual({ linked: 1 });
    } finally {
      await admin.query(`drop schema if exists ${schema} cascade`);
      await admin.end();
    }
  });
});
