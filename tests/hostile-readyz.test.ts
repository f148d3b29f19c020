/**
 * `/readyz` fails while the store cannot commit (issue 23, point 8): before, it answered
 * ready from an in-memory flag while every write failed on a full disk.
 *
 * - Store.probeCommit on SQLite goes through the group commit: a COMMIT that fails rejects it.
 * - The readiness check: a failing or hanging probe is "not ready", and concurrent `/readyz`
 *   requests share one probe (the route is open to anyone).
 * - A real daemon process whose files may not grow (RLIMIT_FSIZE set with prlimit: what a
 *   full disk does to SQLite's WAL) answers `/readyz` 503, and 200 again once it may.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitReadiness } from '../src/server/readiness.ts';
import { probeCommit } from '../src/store/commit-probe.ts';
import { migrationProvider } from '../src/store/migrations/index.ts';
import { openSqliteDatabase, withStatementCache } from '../src/store/sqlite.ts';
import { GroupCommitSqliteDialect } from '../src/store/sqlite-group-commit.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { oktaSandboxConfigYaml } from './helpers/okta-config.ts';
import { describePostgres } from './helpers/postgres.ts';
import { spawnDaemon, type DaemonProcess } from './helpers/processes.ts';
import { request, waitFor } from './helpers/reliability.ts';
import { postgresBackend, sqliteBackend, type StoreBackend } from './store/backends.ts';

describe('Store.probeCommit on SQLite', () => {
  let dir: string;
  let sqlite: BetterSqlite3.Database;
  let db: Kysely<any>;
  let failCommit = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-probe-'));
    sqlite = openSqliteDatabase(join(dir, 'store.db'));
    // The group-commit driver sends BEGIN, SAVEPOINT and COMMIT through exec(): fail COMMIT on demand.
    const failing = new Proxy(sqlite, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (property === 'exec') {
          return (text: string) => {
            if (failCommit && text === 'COMMIT') throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
            return target.exec(text);
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    db = new Kysely<any>({ dialect: new GroupCommitSqliteDialect(failing, withStatementCache(sqlite)) });
    const { error } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
    expect(error).toBeUndefined();
  });

  afterAll(async () => {
    await db?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resolves once its write is committed, and rejects with the store error when COMMIT fails', async () => {
    await probeCommit(db, new Date(1_000));
    expect(sqlite.prepare('select probed_at from commit_probe').all()).toEqual([{ probed_at: 1_000 }]);
    failCommit = true;
    await expect(probeCommit(db, new Date(2_000))).rejects.toThrow('database or disk is full');
    failCommit = false;
    // Nothing of the failed group stayed, and the store commits again.
    expect(sqlite.prepare('select probed_at from commit_probe').all()).toEqual([{ probed_at: 1_000 }]);
    await probeCommit(db, new Date(3_000));
    expect(sqlite.prepare('select probed_at from commit_probe').all()).toEqual([{ probed_at: 3_000 }]);
  });
});

/** The contract on each backend: a probe commits, also when several replicas probe at once. */
function probeCommitContract(backend: Pick<StoreBackend, 'name' | 'open'>): void {
  it(`probeCommit commits its row on ${backend.name}, also from several replicas at once`, async () => {
    let now = 5_000;
    const database = await backend.open(() => new Date(now));
    try {
      await database.store.probeCommit();
      const replicas = await database.replicas(3);
      now = 6_000;
      await Promise.all(replicas.flatMap((replica) => [replica.probeCommit(), replica.probeCommit()]));
    } finally {
      await database.dispose();
    }
  });
}

describe('Store.probeCommit on every backend', () => {
  probeCommitContract(sqliteBackend);
});

describePostgres('Store.probeCommit on PostgreSQL', (url) => {
  probeCommitContract(postgresBackend(url));
});

describe('commitReadiness', () => {
  it('is not ready before start, nor while the probe fails or hangs past its timeout', async () => {
    let started = false;
    let probe: () => Promise<void> = async () => undefined;
    const ready = commitReadiness({
      started: () => started,
      probeCommit: () => probe(),
      logger: silentLogger(),
      timeoutMs: 50,
      reuseMs: 0,
    });
    expect(await ready()).toBe(false);
    started = true;
    expect(await ready()).toBe(true);
    probe = async () => {
      throw new Error('SQLITE_FULL: database or disk is full');
    };
    expect(await ready()).toBe(false);
    probe = () => new Promise(() => undefined);
    const before = performance.now();
    expect(await ready()).toBe(false);
    expect(performance.now() - before).toBeLessThan(1_000);
  });

  it('shares one probe between concurrent requests and reuses its result for reuseMs', async () => {
    let probes = 0;
    const ready = commitReadiness({
      started: () => true,
      probeCommit: async () => {
        probes += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
      },
      logger: silentLogger(),
      reuseMs: 60_000,
    });
    const answers = await Promise.all(Array.from({ length: 50 }, () => ready()));
    expect(answers.every(Boolean)).toBe(true);
    expect(await ready()).toBe(true);
    expect(probes).toBe(1);
  });
});

describe('/readyz of a daemon whose store cannot commit', () => {
  let dir: string;
  let daemon: DaemonProcess | undefined;
  const token = 'readyz-admin-token-0123456789abcdef';

  // The soft limit only: the process may raise it back up to the (unlimited) hard limit.
  const setFileSizeLimit = (limit: number | 'unlimited') => execFileSync('prlimit', ['--pid', String(daemon!.pid), `--fsize=${limit}:`]);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-readyz-'));
    const config = join(dir, 'config.yaml');
    writeFileSync(config, oktaSandboxConfigYaml(dir, { name: 'ops', token, role: 'operator' }));
    daemon = await spawnDaemon(config);
  }, 90_000);

  afterAll(async () => {
    if (daemon) {
      setFileSizeLimit('unlimited');
      await daemon.stop();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 while no file of the store may grow (as on a full disk), and 200 again once it may', async () => {
    const readyz = () => request(`${daemon!.url}/readyz`);
    expect((await readyz()).status).toBe(200);

    // The WAL may not grow past its current size: every commit appends to it.
    setFileSizeLimit(statSync(join(dir, 'store.db-wal')).size);
    const terminate = (n: number) =>
      request(`${daemon!.url}/admin/v1/terminations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ subject: { externalId: `E-full-${n}` } }),
      });
    const refused = await terminate(1);
    expect(refused.status, refused.text).toBe(503);
    const notReady = await waitFor(
      async () => {
        const answer = await readyz();
        return answer.status === 503 ? answer : null;
      },
      '/readyz to answer 503 while writes fail',
      10_000,
      200,
    );
    expect(notReady.body).toEqual({ status: 'not ready' });
    await waitFor(
      async () => daemon!.output().includes('not ready: the store cannot commit a write'),
      'the daemon to log why it is not ready',
      5_000,
      100,
    );

    setFileSizeLimit('unlimited');
    await waitFor(async () => (await readyz()).status === 200, '/readyz to answer 200 once the store commits again', 10_000, 200);
    expect((await terminate(2)).status).toBe(201);
  }, 60_000);
});
