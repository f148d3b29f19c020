/**
 * Statements whose plan SQLite (without statistics) got wrong, each of which then walked
 * every waiting termination, so that each request or claim of a burst cost more than the
 * one before. Checked on the SQL text the store actually runs.
 * - The lookups of a subject's unresolved termination use the partial unique index that
 *   guarantees there is at most one. SQLite picks a partial index only when the query
 *   repeats the index's condition with the same literals; with bound parameters it walked
 *   the state index instead.
 * - A claim marks its tasks' terminations running by primary key, not through the state
 *   index.
 * - A claim walks the due index of its provider; the destructive rule reads only the
 *   candidate termination's own tasks.
 * - The audit linker finds the entries not linked yet, and the chain's head, by index, so
 *   linking does not walk the whole chain.
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

it('marks a claim’s terminations running by primary key, not by walking the scheduled ones', async () => {
  const now = Date.now();
  const waiting = [newTermination(now), newTermination(now)];
  for (const termination of waiting) await store.createTermination(termination, [newTask('disable', { notBefore: new Date(now) })]);
  prepared.length = 0;
  const claimed = await store.claimDueTasks({ worker: 'w1', provider: 'okta', now: new Date(now), leaseMs: 60_000, limit: 1 });

  const updates = [...new Set(prepared.filter((source) => source.startsWith('update "terminations"')))];
  expect(updates).toHaveLength(1);
  expect(planOf(updates[0]!)).toMatch(/^SEARCH terminations USING INDEX sqlite_autoindex_terminations_1 \(id=\?\)$/);
  // And only the claimed task's termination changed.
  const states = await Promise.all(waiting.map(async (t) => [t.id, (await store.getTermination(t.id))!.state]));
  expect(Object.fromEntries(states)).toEqual(
    Object.fromEntries(waiting.map((t) => [t.id, t.id === claimed[0]!.terminationId ? 'running' : 'scheduled'])),
  );
});

it('claims through the due index, and checks a delete’s siblings at its provider through the termination’s own tasks', async () => {
  const now = Date.now();
  const termination = newTermination(now);
  await store.createTermination(termination, [
    newTask('okta-suspend', { notBefore: new Date(now) }),
    newTask('okta-delete', { action: 'delete_account', critical: false, notBefore: new Date(now) }),
  ]);
  prepared.length = 0;
  const claimed = await store.claimDueTasks({ worker: 'w1', provider: 'okta', now: new Date(now), leaseMs: 60_000, limit: 10 });

  const candidates = [
    ...new Set(prepared.filter((source) => source.startsWith('select "t"."id" from "tasks" as "t"') && source.includes('"due_at" <= ?'))),
  ];
  expect(candidates).toHaveLength(1);
  const plan = planOf(candidates[0]!);
  expect(plan).toMatch(/^SEARCH t USING INDEX tasks_due \(state=\? AND provider=\? AND due_at<\?\)/);
  // The (termination_id, step_id) unique constraint's index: a termination's few dozen tasks, not the provider's.
  expect(plan).toMatch(/SEARCH sibling USING INDEX sqlite_autoindex_tasks_\d \(termination_id=\?\)/);
  expect(plan).not.toMatch(/SCAN (t|sibling)\b/);
  // And the rule holds: the delete waits for the suspend at its provider.
  expect(claimed.map((t) => t.stepId)).toEqual(['okta-suspend']);
});

it('finds the audit entries not linked yet, in seq order, and the chain head, through an index without a sort', async () => {
  for (let i = 0; i < 3; i += 1) await store.appendAudit({ actor: 'admin:alice', action: 'test.entry' });
  await store.linkAudit();
  await store.appendAudit({ actor: 'admin:alice', action: 'test.entry' });
  await store.linkAudit();
  await store.countUnlinkedAudit();

  const unlinked = [...new Set(prepared.filter((source) => source.startsWith('select') && source.includes('"chain_pos" is null')))];
  expect(unlinked.length).toBeGreaterThanOrEqual(2);
  // Either index serves: entries with a null position sit together in the position index, in rowid (seq) order.
  for (const source of unlinked)
    expect(planOf(source)).toMatch(/^SEARCH audit_log USING (COVERING )?INDEX audit_log_(chain_pos|unlinked) [^;]*$/);
  const head = prepared.find((source) => source.startsWith('select') && source.includes('"chain_pos" is not null'));
  expect(planOf(head!)).toMatch(/USING (COVERING )?INDEX audit_log_chain_pos/);
  expect(await store.countUnlinkedAudit()).toBe(0);
});

it('reads a completed termination’s verified tasks through its own tasks, not every succeeded task', async () => {
  const now = Date.now();
  const termination = newTermination(now);
  await store.createTermination(termination, [newTask('disable', { notBefore: new Date(now) })]);
  const [task] = await store.claimDueTasks({ worker: 'w1', provider: 'okta', now: new Date(), leaseMs: 60_000, limit: 10 });
  prepared.length = 0;
  await store.finishAttempt(
    'w1',
    task!,
    { state: 'succeeded', evidence: { verified: true }, account: { id: 'acct-1' } },
    {
      taskId: task!.id,
      attempt: task!.attempts,
      worker: 'w1',
      startedAt: new Date(),
      finishedAt: new Date(),
      outcome: 'succeeded',
      errorKind: null,
      errorMessage: null,
      evidence: null,
    },
  );
  expect((await store.getTermination(termination.id))?.state).toBe('completed');
  const verified = [...new Set(prepared.filter((source) => source.startsWith('select') && source.includes('"account" is not null')))];
  expect(verified).toHaveLength(1);
  // The succeeded tasks of every termination ever are most of the table: the state index would walk them all.
  expect(planOf(verified[0]!)).toMatch(/^SEARCH tasks USING INDEX sqlite_autoindex_tasks_\d \(termination_id=\?\)$/);
  expect(await store.listReverifications(termination.id)).not.toHaveLength(0);
});
