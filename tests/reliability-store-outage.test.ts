/**
 * The store goes away under a running daemon (`deprovisiond serve`, a child process):
 *
 * - SQLite: another connection holds the write lock (BEGIN IMMEDIATE) past the daemon's
 *   busy timeout;
 * - PostgreSQL: a TCP proxy (node:net) between the daemon and the server is cut (the
 *   shared PostgreSQL server itself is never touched).
 *
 * While it is away, intake answers 503 (a SCIM error body on /scim/v2, JSON on the webhook
 * and admin API, Retry-After on each) and never 2xx, reads are 503 too (never a 404 a
 * client would act on), and nothing is written. Once the store is back, the same requests
 * are acknowledged without a restart, each termination exists once, and it runs to the end.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../src/store/postgres.ts';
import { spawnDaemon, type DaemonProcess } from './helpers/processes.ts';
import {
  ERROR_SCHEMA,
  PATCH_OP,
  SCIM_JSON,
  USER_SCHEMA,
  describePostgres,
  dropSchema,
  newSchemaName,
  pgAdmin,
  request,
  signedWebhook,
  sleep,
  waitFor,
  type HttpAnswer,
} from './helpers/reliability.ts';

const SCIM_TOKEN = 'outage-scim-token-0123456789abcdef';
const ADMIN_TOKEN = 'outage-admin-token-0123456789abcdef';
const WEBHOOK_SECRET = 'whsec_b3V0YWdlLXRlc3Qtd2ViaG9vay1zZWNyZXQtMTIzNA==';

function writeConfig(dir: string, store: Record<string, unknown>): string {
  const config = {
    server: { host: '127.0.0.1', port: 0 },
    store,
    // src/store/open.ts refuses PostgreSQL without a master key.
    privacy: { masterKey: Buffer.alloc(32, 5).toString('base64') },
    auth: { admin: [{ name: 'ops', token: ADMIN_TOKEN, role: 'operator' }], scim: [SCIM_TOKEN], webhook: [WEBHOOK_SECRET] },
    engine: { lease: '2s', attemptTimeout: '5s', shutdownGrace: '1s', retry: { baseDelay: '100ms', maxDelay: '1s' } },
    providers: { okta: { kind: 'okta', sandbox: { autoProvision: true } } },
    playbooks: {
      leaver: {
        steps: [
          { id: 'okta-revoke', provider: 'okta', action: 'revoke_sessions' },
          { id: 'okta-suspend', provider: 'okta', action: 'disable_account', params: { mode: 'suspend' } },
        ],
      },
    },
    defaultPlaybook: 'leaver',
  };
  const file = join(dir, 'config.yaml');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** The three doors a termination comes through, each as one repeatable request. */
function doors(daemon: () => DaemonProcess, run: string) {
  const scimHeaders = { authorization: `Bearer ${SCIM_TOKEN}`, 'content-type': SCIM_JSON, accept: SCIM_JSON };
  const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const webhookBody = JSON.stringify({ subject: { userName: `hook-${run}@example.com`, emails: [`hook-${run}@example.com`] } });
  const webhookId = `msg_outage_${run}`;
  return {
    createScimUser: () =>
      request(`${daemon().url}/scim/v2/Users`, {
        method: 'POST',
        headers: scimHeaders,
        body: JSON.stringify({
          schemas: [USER_SCHEMA],
          userName: `scim-${run}@example.com`,
          emails: [{ value: `scim-${run}@example.com`, primary: true }],
        }),
      }),
    scimGet: (id: string) => request(`${daemon().url}/scim/v2/Users/${id}`, { headers: scimHeaders }),
    scimList: () =>
      request(`${daemon().url}/scim/v2/Users?filter=${encodeURIComponent(`userName eq "scim-${run}@example.com"`)}`, {
        headers: scimHeaders,
      }),
    scimDeactivate: (id: string) =>
      request(`${daemon().url}/scim/v2/Users/${id}`, {
        method: 'PATCH',
        headers: scimHeaders,
        body: JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] }),
        timeoutMs: 30_000,
      }),
    // Signed at each send: a retry is a redelivery with the same id and body.
    webhook: () =>
      request(`${daemon().url}/webhooks/termination`, {
        method: 'POST',
        headers: signedWebhook(WEBHOOK_SECRET, webhookId, webhookBody),
        body: webhookBody,
        timeoutMs: 30_000,
      }),
    admin: () =>
      request(`${daemon().url}/admin/v1/terminations`, {
        method: 'POST',
        headers: { ...adminHeaders, 'idempotency-key': `outage-${run}` },
        body: JSON.stringify({ subject: { userName: `admin-${run}@example.com`, emails: [`admin-${run}@example.com`] } }),
        timeoutMs: 30_000,
      }),
    adminList: () => request(`${daemon().url}/admin/v1/terminations`, { headers: adminHeaders, timeoutMs: 30_000 }),
    adminGet: (id: string) => request(`${daemon().url}/admin/v1/terminations/${id}`, { headers: adminHeaders }),
  };
}

function expectScimUnavailable(answer: HttpAnswer, what: string): void {
  expect(answer.status, `${what}: ${answer.text}`).toBe(503);
  expect(answer.body, what).toMatchObject({ schemas: [ERROR_SCHEMA], status: '503' });
  expect(answer.headers.get('retry-after'), what).toBeTruthy();
}

function expectJsonUnavailable(answer: HttpAnswer, what: string): void {
  expect(answer.status, `${what}: ${answer.text}`).toBe(503);
  expect(answer.body, what).toEqual({ error: expect.stringMatching(/unavailable/) });
  expect(answer.headers.get('retry-after'), what).toBeTruthy();
}

/** The outage scenario, whatever takes the store away. */
async function outageScenario(options: {
  name: string;
  daemon: () => DaemonProcess;
  cut: () => Promise<void>;
  restore: () => Promise<void>;
  /** Terminations committed, read behind the daemon's back (works during the outage). */
  committed: () => Promise<number>;
  /** Reads fail during this outage too (PostgreSQL; SQLite in WAL mode still reads). */
  readsFail: boolean;
}): Promise<void> {
  const run = `${options.name}-${Date.now()}`;
  const door = doors(options.daemon, run);
  const created = await door.createScimUser();
  expect(created.status, created.text).toBe(201);
  const userId = (created.body as { id: string }).id;
  const before = await options.committed();

  await options.cut();
  const outageStartedAt = Date.now();
  // Sequential: under SQLite each write waits out the daemon's busy timeout on its one thread.
  const during = { scim: await door.scimDeactivate(userId), webhook: await door.webhook(), admin: await door.admin() };
  expectScimUnavailable(during.scim, 'SCIM PATCH during the outage');
  expectJsonUnavailable(during.webhook, 'webhook during the outage');
  expectJsonUnavailable(during.admin, 'admin create during the outage');
  if (options.readsFail) {
    // A read that fails is a 503, never a 404 a SCIM client would re-create the user on.
    expectScimUnavailable(await door.scimGet(userId), 'SCIM GET during the outage');
    expectScimUnavailable(await door.scimList(), 'SCIM list during the outage');
    expectJsonUnavailable(await door.adminList(), 'admin list during the outage');
  }
  const outageMs = Date.now() - outageStartedAt;
  await options.restore();

  // Nothing was acknowledged, and nothing was written.
  expect(await options.committed()).toBe(before);

  // Back by itself: the same requests, retried as a client would, are acknowledged.
  const retry = async (what: string, call: () => Promise<HttpAnswer>, ok: number[]) =>
    waitFor(
      async () => {
        const answer = await call();
        return ok.includes(answer.status) ? answer : null;
      },
      `${what} to be acknowledged after the store came back`,
      30_000,
      200,
    );
  const recoveredAt = Date.now();
  const scim = await retry('SCIM PATCH', () => door.scimDeactivate(userId), [200]);
  const hook = await retry('webhook', door.webhook, [201]);
  const admin = await retry('admin create', door.admin, [201]);
  const recoveryMs = Date.now() - recoveredAt;
  expect((scim.body as { active: boolean }).active).toBe(false);
  expect(await options.committed()).toBe(before + 3);

  // Each runs to the end.
  for (const id of [(hook.body as { terminationId: string }).terminationId, (admin.body as { terminationId: string }).terminationId]) {
    await waitFor(
      async () => {
        const answer = await door.adminGet(id);
        return answer.status === 200 && (answer.body as { termination: { state: string } }).termination.state === 'completed';
      },
      `termination ${id} to complete`,
      30_000,
      100,
    );
  }
  console.log(
    `reliability-store-outage (${options.name}): during the outage SCIM ${during.scim.status}, webhook ${during.webhook.status}, admin ${during.admin.status}` +
      `${options.readsFail ? ', reads 503' : ''} (${outageMs} ms); after it 200/201/201 within ${recoveryMs} ms, terminations +3, no restart`,
  );
}

describe('store unavailable: SQLite write lock held by another connection', () => {
  let dir: string;
  let daemon: DaemonProcess | undefined;
  let locker: BetterSqlite3.Database | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-outage-'));
    daemon = await spawnDaemon(writeConfig(dir, { sqlite: { path: join(dir, 'store.db') } }), { LOG_LEVEL: 'info' });
    locker = new BetterSqlite3(join(dir, 'store.db'));
    locker.pragma('busy_timeout = 5000');
  }, 60_000);

  afterAll(async () => {
    if (locker?.inTransaction) locker.exec('ROLLBACK');
    locker?.close();
    await daemon?.stop('SIGTERM', 3_000);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('answers 503, writes nothing, and recovers once the lock is released', async () => {
    await outageScenario({
      name: 'SQLite',
      daemon: () => daemon!,
      cut: async () => void locker!.exec('BEGIN IMMEDIATE'),
      restore: async () => void locker!.exec('ROLLBACK'),
      committed: async () => (locker!.prepare('select count(*) as n from terminations').get() as { n: number }).n,
      readsFail: false,
    });
    expect(daemon!.output()).toMatch(/store unavailable|SQLITE_BUSY|database is locked/);
  }, 120_000);
});

/** A TCP proxy that can be cut (every connection dropped, new ones refused at once) and restored. */
async function startProxy(target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  let cut = false;
  const server = net.createServer((client) => {
    if (cut) return void client.destroy();
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      cut = true;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    restore() {
      cut = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describePostgres('store unavailable: PostgreSQL unreachable through a cut proxy', (url) => {
  const schema = newSchemaName('outage');
  let dir: string;
  let daemon: DaemonProcess | undefined;
  let proxy: Awaited<ReturnType<typeof startProxy>> | undefined;
  let direct: pg.Pool | undefined;

  beforeAll(async () => {
    await (await pgAdmin(url)).end();
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-outage-pg-'));
    const target = new URL(url);
    proxy = await startProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const viaProxy = new URL(url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    daemon = await spawnDaemon(writeConfig(dir, { postgres: { url: viaProxy.toString(), schema, poolSize: 4 } }), { LOG_LEVEL: 'info' });
    direct = new pg.Pool({ connectionString: url, max: 1, options: `-c search_path=${schema}` });
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop('SIGTERM', 3_000);
    await proxy?.close();
    await direct?.end();
    await dropSchema(url, schema);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('survives a connection dropped while a transaction holds it (no unhandled pg error)', async () => {
    // Deterministic form of the crash the daemon showed before the fix: a checked-out pooled
    // client whose connection drops emitted an 'error' nobody listened to.
    const local = await startProxy({ host: new URL(url).hostname, port: Number(new URL(url).port || 5432) });
    const viaProxy = new URL(url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(local.port);
    const store = createPostgresStore({ url: viaProxy.toString(), schema, poolSize: 1 });
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      await store.migrate();
      const db = (store as unknown as { db: Kysely<unknown> }).db;
      const failed = await db
        .transaction()
        .execute(async (trx) => {
          await sql`select 1`.execute(trx);
          local.cut();
          await sleep(200);
          await sql`select 1`.execute(trx);
        })
        .then(
          () => null,
          (error: unknown) => error,
        );
      expect(failed).toBeInstanceOf(Error);
      expect(uncaught).toEqual([]);
      local.restore();
      // The pool discarded the dead client and connects again.
      await waitFor(
        async () => (await sql<{ one: number }>`select 1 as one`.execute(db).catch(() => null))?.rows[0]?.one === 1,
        'the pool to reconnect',
        10_000,
        100,
      );
    } finally {
      process.off('uncaughtException', onUncaught);
      await store.close();
      await local.close();
    }
  }, 30_000);

  it('answers 503 (reads too), writes nothing, and recovers once the proxy is back', async () => {
    await outageScenario({
      name: 'PostgreSQL',
      daemon: () => daemon!,
      cut: async () => proxy!.cut(),
      restore: async () => proxy!.restore(),
      committed: async () => Number((await direct!.query<{ n: string }>('select count(*) as n from terminations')).rows[0]!.n),
      readsFail: true,
    });
  }, 120_000);
});
