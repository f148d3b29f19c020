/**
 * Migration 0010 on a chain written before it (linked under the old chain lock, in seq
 * order, pruned once): the old chain keeps verifying from its anchor, and new entries are
 * linked after its head. On SQLite the table is rebuilt; on PostgreSQL it is altered.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Migrator, sql, type Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, chainHash } from '../../src/audit/chain.ts';
import { verifyAuditChain } from '../../src/audit/verify.ts';
import { migrationProvider } from '../../src/store/migrations/index.ts';
import { createPostgresStore } from '../../src/store/postgres.ts';
import type { SqlStore } from '../../src/store/sql-store.ts';
import { createSqliteStore } from '../../src/store/sqlite.ts';
import { describePostgres, newSchemaName, pgAdmin } from '../helpers/postgres.ts';

const BEFORE_LINKER = '0006_tasks_run_while_held';

/** Writes a chain as the code before migration 0010 did, and prunes its first `pruned` entries as that code did. */
async function writeLegacyChain(db: Kysely<any>, count: number, pruned: number): Promise<void> {
  let prev = GENESIS_HASH;
  const rows: Array<{ seq: number; hash: string }> = [];
  for (let i = 0; i < count; i += 1) {
    const fields = {
      at: 1_700_000_000_000 + i,
      actor: 'admin:ops',
      action: 'legacy.entry',
      terminationId: null,
      taskId: null,
      data: JSON.stringify({ i }),
    };
    const hash = chainHash(prev, fields);
    const row = await db
      .insertInto('audit_log')
      .values({
        at: fields.at,
        actor: fields.actor,
        action: fields.action,
        termination_id: null,
        task_id: null,
        data: fields.data,
        prev_hash: prev,
        hash,
      })
      .returning('seq')
      .executeTakeFirstOrThrow();
    rows.push({ seq: Number(row.seq), hash });
    prev = hash;
  }
  // The old pruning: delete a prefix, keep its last entry as the anchor, record it in the chain (as `throughSeq`).
  const anchor = rows[pruned - 1]!;
  await db.deleteFrom('audit_log').where('seq', '<=', anchor.seq).execute();
  await db.insertInto('audit_anchor').values({ id: 1, seq: anchor.seq, hash: anchor.hash, pruned_at: 1_700_000_100_000 }).execute();
  const fields = {
    at: 1_700_000_100_000,
    actor: 'engine:retention',
    action: 'audit.pruned',
    terminationId: null,
    taskId: null,
    data: JSON.stringify({ throughSeq: anchor.seq, anchorHash: anchor.hash, before: '2023-11-15T00:00:00.000Z' }),
  };
  await db
    .insertInto('audit_log')
    .values({
      at: fields.at,
      actor: fields.actor,
      action: fields.action,
      termination_id: null,
      task_id: null,
      data: fields.data,
      prev_hash: prev,
      hash: chainHash(prev, fields),
    })
    .execute();
}

async function expectUpgradedChain(store: SqlStore, migrateOld: () => Promise<void>): Promise<void> {
  await migrateOld();
  const db = (store as unknown as { db: Kysely<any> }).db;
  await writeLegacyChain(db, 6, 2);
  await store.migrate();
  const anchor = await store.auditAnchor();
  expect(await verifyAuditChain((after, limit) => store.listAudit(after, limit), anchor, 3)).toMatchObject({
    ok: true,
    entries: 5,
    unlinked: 0,
    anchoredAt: anchor!.position,
  });
  await store.appendAudit({ actor: 'admin:alice', action: 'after.upgrade' });
  await store.linkAudit();
  const entries = await store.listAudit(0, 100);
  expect(entries.at(-1)).toMatchObject({
    action: 'after.upgrade',
    position: entries.at(-2)!.position! + 1,
    prevHash: entries.at(-2)!.hash,
  });
  expect(await verifyAuditChain((after, limit) => store.listAudit(after, limit), anchor, 3)).toMatchObject({
    ok: true,
    entries: 6,
    unlinked: 0,
  });
}

const migrateTo =
  (store: SqlStore, options: { migrationTableSchema?: string } = {}) =>
  async () => {
    const db = (store as unknown as { db: Kysely<any> }).db;
    const { error } = await new Migrator({ db, provider: migrationProvider, ...options }).migrateTo(BEFORE_LINKER);
    if (error) throw error;
  };

describe('migration 0010 on SQLite', () => {
  it('keeps a chain written before it verifying, and links new entries after its head', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-0010-'));
    const store = createSqliteStore(join(dir, 'store.db'));
    try {
      await expectUpgradedChain(store, migrateTo(store));
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describePostgres('migration 0010 on PostgreSQL', (url) => {
  it('keeps a chain written before it verifying, and links new entries after its head', async () => {
    const schema = newSchemaName('audit_0010');
    const admin = await pgAdmin(url);
    const store = createPostgresStore({ url, schema, poolSize: 2 });
    try {
      await admin.query(`create schema ${schema}`);
      await expectUpgradedChain(store, migrateTo(store, { migrationTableSchema: schema }));
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from audit_log where chain_pos is null`.execute(
        (store as unknown as { db: Kysely<any> }).db,
      );
      expect(rows[0]!.n).toBe(0);
    } finally {
      await store.close();
      await admin.query(`drop schema if exists ${schema}, ${schema}_keyring cascade`);
      await admin.end();
    }
  });
});
