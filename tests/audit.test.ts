/**
 * The audit chain and the evidence document, against a real SQLite store whose rows are
 * then tampered with directly, as an attacker with database access would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildEvidence, renderEvidenceHtml } from '../src/audit/evidence.ts';
import { verifyAuditChain } from '../src/audit/verify.ts';
import { createSqliteStore } from '../src/store/sqlite.ts';
import type { SqlStore } from '../src/store/sql-store.ts';
import { FakeProvider } from './helpers/fake-provider.ts';
import { allIn, createHarness } from './helpers/engine-harness.ts';
import { inlineAttemptsIn } from './helpers/test-module.ts';

describe('audit chain', () => {
  let dir: string;
  let store: SqlStore;
  const path = () => join(dir, 'store.db');

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-audit-'));
    store = createSqliteStore(path());
    await store.migrate();
    for (let i = 1; i <= 6; i += 1) await store.appendAudit({ actor: `admin:${i}`, action: 'test.entry', data: { n: i } });
    await store.linkAudit();
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const verify = async () => verifyAuditChain((after, limit) => store.listAudit(after, limit), await store.auditAnchor(), 2);
  const tamper = (sql: string) => {
    const db = new BetterSqlite3(path());
    db.exec(sql);
    db.close();
  };

  it('verifies an untouched chain, across pages', async () => {
    expect(await verify()).toMatchObject({ ok: true, entries: 6 });
  });

  it('reports the first edited row', async () => {
    tamper(`UPDATE audit_log SET data = '{"n":99}' WHERE seq = 3`);
    expect(await verify()).toMatchObject({ ok: false, brokenAt: 3, reason: 'edited', entries: 2 });
  });

  it('reports an edited actor even when the data is untouched', async () => {
    tamper(`UPDATE audit_log SET actor = 'admin:someone-else' WHERE seq = 5`);
    expect(await verify()).toMatchObject({ ok: false, brokenAt: 5, reason: 'edited' });
  });

  it('reports a removed row at the entry after it', async () => {
    tamper(`DELETE FROM audit_log WHERE seq = 4`);
    expect(await verify()).toMatchObject({ ok: false, brokenAt: 5, reason: 'removed_or_reordered' });
  });

  it('reports reordered rows', async () => {
    // The chain's order is its positions (seq is only an id): swapping two positions reorders it.
    tamper(
      `UPDATE audit_log SET chain_pos = 100 WHERE chain_pos = 2; UPDATE audit_log SET chain_pos = 2 WHERE chain_pos = 3; UPDATE audit_log SET chain_pos = 3 WHERE chain_pos = 100;`,
    );
    expect(await verify()).toMatchObject({ ok: false, brokenAt: 2, reason: 'removed_or_reordered' });
  });

  it('reports a row whose hash was recomputed but whose successor still points at the original', async () => {
    // An attacker who edits a row and fixes its own hash still breaks the next link.
    const rows = await store.listAudit(0, 10);
    const { chainHash } = await import('../src/audit/chain.ts');
    const row = rows[2]!;
    const forged = chainHash(row.prevHash!, {
      at: row.at.getTime(),
      actor: row.actor,
      action: row.action,
      terminationId: null,
      taskId: null,
      data: '{"n":42}',
    });
    tamper(`UPDATE audit_log SET data = '{"n":42}', hash = '${forged}' WHERE seq = ${row.seq}`);
    expect(await verify()).toMatchObject({ ok: false, brokenAt: row.position! + 1, reason: 'removed_or_reordered' });
  });

  it('counts entries not linked yet without failing, and judges them once linked', async () => {
    await store.appendAudit({ actor: 'admin:7', action: 'test.entry', data: { n: 7 } });
    await store.appendAudit({ actor: 'admin:8', action: 'test.entry', data: { n: 8 } });
    expect(await verify()).toMatchObject({ ok: true, entries: 6, unlinked: 2 });
    const exact = await verifyAuditChain(
      (after, limit) => store.listAudit(after, limit),
      null,
      2,
      () => store.countUnlinkedAudit(),
    );
    expect(exact).toMatchObject({ ok: true, entries: 6, unlinked: 2 });
    await store.linkAudit();
    expect(await verify()).toMatchObject({ ok: true, entries: 8, unlinked: 0 });
    tamper(`UPDATE audit_log SET data = '{"n":80}' WHERE chain_pos = 8`);
    expect(await verify()).toMatchObject({ ok: false, brokenAt: 8, reason: 'edited' });
  });

  it('links a backlog longer than one batch in several short transactions, one chain', async () => {
    const batched = createSqliteStore(join(dir, 'batched.db'), undefined, { linker: { batchSize: 4 } });
    try {
      await batched.migrate();
      for (let i = 1; i <= 10; i += 1) await batched.appendAudit({ actor: 'admin:ops', action: 'test.entry', data: { n: i } });
      expect(await batched.linkAudit()).toEqual({ linked: 10 });
      const entries = await batched.listAudit(0, 100);
      expect(entries.map((e) => e.position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(await verifyAuditChain((after, limit) => batched.listAudit(after, limit), null, 3)).toMatchObject({
        ok: true,
        entries: 10,
        unlinked: 0,
      });
    } finally {
      await batched.close();
    }
  });

  it('reports an entry whose link was stripped to pass it off as not linked yet', async () => {
    tamper(`UPDATE audit_log SET chain_pos = NULL, prev_hash = NULL, hash = NULL WHERE chain_pos = 3`);
    expect(await verify()).toMatchObject({ ok: false, brokenAt: 4, reason: 'removed_or_reordered' });
  });
});

describe('evidence document', () => {
  it('holds the timeline, the read-backs, the operators and the chain position, and no secrets', async () => {
    const idp = new FakeProvider('idp', ['revoke_sessions', 'disable_account']);
    const harness = await createHarness([idp], {
      playbooks: {
        default: {
          steps: [
            { id: 'revoke', provider: 'idp', action: 'revoke_sessions' },
            { id: 'disable', provider: 'idp', action: 'disable_account' },
          ],
        },
      },
    });
    try {
      harness.engine().start();
      const { termination } = await harness.service.submit({
        source: 'admin',
        subject: { userName: 'eve<script>@example.com', emails: [] },
        reason: 'left',
        actor: 'admin:alice',
      });
      await harness.waitForTasks(termination.id, allIn('succeeded'));
      const unlinked = buildEvidence(termination, [], [], await harness.store.listAuditOf(termination.id));
      expect(unlinked.auditChain).toMatchObject({ firstPosition: null, lastPosition: null });
      expect(unlinked.auditChain.unlinked).toBe(unlinked.auditChain.entries.length);
      expect(unlinked.auditChain.entries[0]).toMatchObject({ position: null, hash: null, linked: false });
      expect(renderEvidenceHtml(unlinked)).toMatch(/no entry linked yet; \d+ newer entries not linked yet/);
      await harness.store.linkAudit();
      const t = (await harness.store.getTermination(termination.id))!;
      const audit = (await harness.store.listAudit(0, 1000)).filter((e) => e.terminationId === t.id);
      const doc = buildEvidence(t, await harness.store.listTasks(t.id), await harness.store.listAttempts(t.id), audit);
      expect(doc.termination).toMatchObject({ id: t.id, state: 'completed', requestedBy: 'admin:alice', reason: 'left' });
      expect(doc.termination.timeToRevokeMs).toBeGreaterThanOrEqual(0);
      expect(doc.tasks.map((x) => [x.step, x.state, x.verifiedBy])).toEqual(
        expect.arrayContaining([
          ['revoke', 'succeeded', { verified: 'revoke_sessions' }],
          ['disable', 'succeeded', { verified: 'disable_account' }],
        ]),
      );
      expect(doc.tasks.every((x) => x.attempts.length === 1 && x.attempts[0]!.outcome === 'succeeded')).toBe(true);
      expect(doc.actions).toEqual([expect.objectContaining({ actor: 'admin:alice', action: 'termination.created' })]);
      expect(doc.auditChain.entries.map((e) => e.action)).toEqual(
        expect.arrayContaining(['termination.created', 'task.succeeded', 'termination.revoked', 'termination.completed']),
      );
      expect(doc.auditChain.unlinked).toBe(0);
      expect(doc.auditChain.entries.every((e) => e.linked && e.position !== null && /^[0-9a-f]{64}$/.test(e.hash!))).toBe(true);
      expect(doc.auditChain.firstPosition).toBe(doc.auditChain.entries[0]!.position);
      const html = renderEvidenceHtml(doc);
      expect(html).toContain('eve&lt;script&gt;@example.com');
      expect(html).not.toContain('<script>');
      expect(html).toContain(doc.auditChain.entries.at(-1)!.hash!);
    } finally {
      await harness.close();
    }
  });
});

describe('deprovisiond audit verify', () => {
  it('exits 0 on an intact chain and 1 naming the first broken link after tampering', async () => {
    const { spawnSync } = await import('node:child_process');
    const { writeFileSync } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-audit-cli-'));
    try {
      const dbPath = join(dir, 'store.db');
      const store = createSqliteStore(dbPath);
      await store.migrate();
      for (let i = 1; i <= 4; i += 1) await store.appendAudit({ actor: 'admin:ops', action: 'test.entry', data: { n: i } });
      await store.linkAudit();
      await store.appendAudit({ actor: 'admin:ops', action: 'test.entry', data: { n: 5 } });
      await store.close();
      writeFileSync(
        join(dir, 'config.yaml'),
        `store: { sqlite: { path: ${dbPath} } }\nproviders: {}\nplaybooks: { p: { steps: [{ id: s, action: manual }] } }\ndefaultPlaybook: p\n`,
      );
      const run = () =>
        spawnSync(process.execPath, ['bin/deprovisiond.js', 'audit', 'verify', '--config', join(dir, 'config.yaml')], { encoding: 'utf8' });
      const ok = run();
      expect(ok.stdout).toMatch(/audit chain ok: 4 entries, head [0-9a-f]{64}; 1 newer entries not linked yet/);
      expect(ok.status).toBe(0);
      const db = new BetterSqlite3(dbPath);
      db.exec(`UPDATE audit_log SET actor = 'admin:mallory' WHERE chain_pos = 2`);
      db.close();
      const broken = run();
      expect(broken.stdout).toMatch(/audit chain BROKEN at entry 2 \(edited\)/);
      expect(broken.status).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('audit retention', () => {
  const DAY = 86_400_000;

  /** A fresh SQLite store (file `dbPath`) whose clock the test moves through `clock.now`; removed afterwards. */
  async function withClockedStore(test: (store: SqlStore, clock: { now: number }, dbPath: string) => Promise<void>): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-prune-'));
    const clock = { now: Date.UTC(2025, 0, 1) };
    const dbPath = join(dir, 'store.db');
    const store = createSqliteStore(dbPath, () => new Date(clock.now));
    try {
      await store.migrate();
      await test(store, clock, dbPath);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('prunes a prefix past retention, keeps open terminations, and the chain still verifies from its anchor', async () => {
    await withClockedStore(async (store, clock, dbPath) => {
      for (let i = 0; i < 5; i += 1) await store.appendAudit({ actor: 'admin:ops', action: 'old.entry', data: { i } });
      // A termination still open when the retention passes: its entries stay, and so does everything after.
      await store.createTermination(
        {
          id: 'open-1',
          source: 'admin',
          sourceEventId: null,
          subjectKey: 'user:x',
          subject: { emails: [] },
          reason: null,
          playbook: 'p',
          state: 'scheduled',
          requestedAt: new Date(clock.now),
          effectiveAt: new Date(clock.now + 365 * DAY),
          createdBy: 'admin:ops',
        },
        [],
      );
      await store.appendAudit({ actor: 'admin:ops', action: 'old.entry', data: { i: 99 } });
      clock.now += 500 * DAY;
      await store.appendAudit({ actor: 'admin:ops', action: 'recent.entry' });
      await store.linkAudit();

      const result = await store.pruneAudit(new Date(clock.now - 400 * DAY), 'engine:retention');
      expect(result).toEqual({ pruned: 5, throughPosition: 5 });
      await store.linkAudit();
      const left = await store.listAudit(0, 100);
      expect(left.map((e) => e.action)).toEqual(['termination.created', 'old.entry', 'recent.entry', 'audit.pruned']);
      const verify = async () => verifyAuditChain((after, limit) => store.listAudit(after, limit), await store.auditAnchor());
      expect(await verify()).toMatchObject({ ok: true, entries: 4, anchoredAt: 5 });
      // Nothing more can go while the termination is open.
      expect(await store.pruneAudit(new Date(clock.now - 400 * DAY), 'engine:retention')).toEqual({ pruned: 0, throughPosition: null });

      // Moving the anchor to hide more removed entries is caught.
      const db = new BetterSqlite3(dbPath);
      db.exec(
        `DELETE FROM audit_log WHERE chain_pos = 6; UPDATE audit_anchor SET chain_pos = 6, hash = (SELECT prev_hash FROM audit_log WHERE chain_pos = 7)`,
      );
      db.close();
      expect(await verify()).toMatchObject({ ok: false, reason: 'anchor_moved' });
    });
  });

  it('prunes linked entries only: an old entry the linker has not reached yet stays, and is linked after the anchor', async () => {
    await withClockedStore(async (store, clock) => {
      for (let i = 0; i < 3; i += 1) await store.appendAudit({ actor: 'admin:ops', action: 'old.linked', data: { i } });
      await store.linkAudit();
      await store.appendAudit({ actor: 'admin:ops', action: 'old.unlinked' });
      clock.now += 500 * DAY;
      expect(await store.pruneAudit(new Date(clock.now - 400 * DAY), 'engine:retention')).toEqual({ pruned: 3, throughPosition: 3 });
      await store.linkAudit();
      expect((await store.listAudit(0, 100)).map((e) => [e.action, e.position])).toEqual([
        ['old.unlinked', 4],
        ['audit.pruned', 5],
      ]);
      expect(await verifyAuditChain((after, limit) => store.listAudit(after, limit), await store.auditAnchor())).toMatchObject({
        ok: true,
        entries: 2,
        anchoredAt: 3,
      });
    });
  });

  it('refuses a retention shorter than the longest playbook delay plus 90 days', async () => {
    const { parseConfig } = await import('../src/config/load.ts');
    const text = (retention: string) =>
      `store: { sqlite: { path: /tmp/x.db } }\naudit: { retention: ${retention} }\nproviders: {}\nplaybooks: { p: { steps: [{ id: s, action: manual, delay: 30d }] } }\ndefaultPlaybook: p\n`;
    expect(() => parseConfig(text('100d'), 'c.yaml', {})).toThrow(/audit\.retention \(line 2\): expected at least 120d/);
    expect(parseConfig(text('120d'), 'c.yaml', {}).audit.retention).toBe(120 * DAY);
  });
});

describe('the daemon links the audit chain', () => {
  it('starts the linker with the store: entries are linked moments after they commit, with no call to link them', async () => {
    const { configSchema } = await import('../src/config/schema.ts');
    const { startDaemon } = await import('../src/daemon.ts');
    const { silentLogger } = await import('../src/telemetry/logger.ts');
    const { pollUntil } = await import('./helpers/poll.ts');
    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-linker-'));
    const config = configSchema.parse({
      server: { port: 0 },
      store: { sqlite: { path: join(dir, 'store.db') } },
      providers: {},
      playbooks: { p: { steps: [{ id: 's', action: 'manual' }] } },
      defaultPlaybook: 'p',
    });
    const daemon = await startDaemon(inlineAttemptsIn(config), {
      configFile: 'linker.yaml',
      logger: silentLogger(),
      modules: new Map(),
      runEngine: false,
    });
    try {
      for (let i = 0; i < 3; i += 1) await daemon.store.appendAudit({ actor: 'admin:ops', action: 'test.entry', data: { i } });
      await pollUntil(
        async () => (await daemon.store.countUnlinkedAudit()) === 0,
        () => 'the daemon did not link the appended entries',
        5_000,
      );
      expect(await verifyAuditChain((after, limit) => daemon.store.listAudit(after, limit))).toMatchObject({
        ok: true,
        entries: 3,
        unlinked: 0,
      });
    } finally {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
