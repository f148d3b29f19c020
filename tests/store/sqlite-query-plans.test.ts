/**
 * The store's lookups of a subject's unresolved termination use the partial unique index
 * that guarantees there is at most one. SQLite picks a partial index only when the query
 * repeats the index's condition with the same literals; with bound parameters it walked
 * every unresolved termination instead, which made each request of an intake burst cost
 * more than the one before. Checked on the SQL text the store actually runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createSqliteStore } from '../../src/store/sqlite.ts';
import type { SqlStore } from '../../src/store/sql-store.ts';
import { newTask, newTermination } from './suite.ts';

let dir: string;
let store: SqlStore;
let prepared: string[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'query-plans-'));
  prepared = [];
  const prepare = BetterSqlite3.prototype.prepare;
  vi.spyOn(BetterSqlite3.prototype, 'prepare').mockImplementation(function (this: BetterSqlite3.Database, source: string) {
    prepared.push(source);
    return prepare.call(this, source);
  });
  store = createSqliteStore(join(dir, 'db.sqlite'));
  await store.migrate();
});

afterEach(async () => {
  vi.restoreAllMocks();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function planOf(source: string): string {
  const reader = new BetterSqlite3(join(dir, 'db.sqlite'), { readonly: true });
  try {
    const statement = reader.prepare(`EXPLAIN QUERY PLAN ${source}`);
    const parameters = new Array((source.match(/\?/g) ?? []).length).fill(null);
    return (statement.all(...parameters) as Array<{ detail: string }>).map((row) => row.detail).join('; ');
  } finally {
    reader.close();
  }
}

it('finds a subject’s unresolved termination through the partial index, on creation and on lookup', async () => {
  const termination = newTermination(Date.now());
  await store.createTermination(termination, [newTask('disable')]);
  await store.findOpenTermination(termination.subjectKey);

  const lookups = [...new Set(prepared.filter((source) => source.includes('"subject_key" = ?') && source.startsWith('select')))];
  // The duplicate check of createTermination and findOpenTermination share one statement.
  expect(lookups).toHaveLength(1);
  expect(planOf(lookups[0]!)).toContain('USING INDEX terminations_open_subject');
  // And the index still answers the question: the open termination is found.
  expect((await store.findOpenTermination(termination.subjectKey))?.id).toBe(termination.id);
});
