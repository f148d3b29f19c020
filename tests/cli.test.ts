import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError } from '../providers/contract.ts';
import { runCli } from '../src/cli/main.ts';
import { OPERATOR_TOKEN, VIEWER_TOKEN, startTestDaemon, uniqueSubject, type TestDaemon } from './helpers/admin-daemon.ts';

let t: TestDaemon;

beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t?.stop();
});

/** Runs a command in-process, as `deprovisiond <command> ...` would, with its output captured. */
async function cli(command: string, args: string[], env: Record<string, string | undefined> = {}) {
  let out = '';
  let err = '';
  const code = await runCli([...command.split(' '), ...args], {
    env: { DEPROVISIOND_URL: t.url, DEPROVISIOND_TOKEN: OPERATOR_TOKEN, ...env },
    out: { write: (s: string) => (out += s) },
    err: { write: (s: string) => (err += s) },
  });
  return { code, out, err };
}

const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString();

describe('deprovisiond admin commands', () => {
  it('terminate creates a termination; a second run reports the existing one', async () => {
    const s = uniqueSubject('cli');
    const args = ['--external-id', s.externalId, '--email', s.emails[0]!, '--reason', 'last day', '--effective-at', tomorrow()];
    const first = await cli('terminate', args);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/^termination [0-9a-f-]{36} scheduled\n$/);
    const again = await cli('terminate', [...args, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({
      duplicate: false,
      outcome: 'joined',
      state: 'scheduled',
      termination: { reason: 'last day', createdBy: 'admin:ops' },
    });
  });

  it('plan prints the tasks and writes nothing', async () => {
    const s = uniqueSubject('plan');
    const res = await cli('plan', ['--user-name', s.userName, '--playbook', 'default'], { DEPROVISIOND_TOKEN: VIEWER_TOKEN });
    expect(res.code).toBe(0);
    expect(res.out).toContain(`plan for user:${s.userName}: playbook default`);
    expect(res.out).toMatch(/STEP\s+PROVIDER\s+ACTION\s+AFTER\s+NOT BEFORE\s+CRITICAL/);
    expect(res.out).toMatch(/disable\s+fake\s+disable_account\s+revoke/);
    expect((await t.daemon.store.listTerminations({ subjectKey: `user:${s.userName}`, limit: 5 })).items).toEqual([]);
  });

  it('status shows tasks and exits 1 for a failed termination; replay brings it to completion', async () => {
    t.fake.script('revoke_sessions', { kind: 'throw', error: new PermanentError('missing scope') });
    const created = JSON.parse(
      (await cli('terminate', ['--external-id', uniqueSubject('st').externalId, '--playbook', 'quick', '--json'])).out,
    );
    await t.waitFor(created.terminationId, (x) => x.state === 'failed');
    const status = await cli('status', [created.terminationId]);
    expect(status.code).toBe(1);
    expect(status.out).toContain(`termination ${created.terminationId}: failed`);
    expect(status.out).toMatch(/\nrevoke\s+fake\s+revoke_sessions\s+failed\s+1 /);
    expect(status.out).toContain('\nerrors:\n  revoke (failed, attempt 1)\n    permanent: missing scope\n');
    expect(status.out).toContain(`replay a failed step: deprovisiond replay ${created.terminationId} --task STEP`);
    expect(Math.max(...status.out.split('\n').map((l) => l.length))).toBeLessThanOrEqual(100);
    const wide = await cli('status', [created.terminationId, '--wide']);
    expect(wide.out).toMatch(/[0-9a-f-]{36}\s+revoke\s+fake\s+revoke_sessions\s+failed\s+1 .*permanent: missing scope/);

    const replay = await cli('replay', [created.terminationId]);
    expect(replay.code).toBe(0);
    expect(replay.out).toContain('replayed 1 task(s)');
    await t.waitFor(created.terminationId, (x) => x.state === 'completed');
    const done = await cli('status', [created.terminationId, '--json']);
    expect(done.code).toBe(0);
    expect(JSON.parse(done.out).termination.state).toBe('completed');
  });

  it('reverify queues a read-back of a completed termination, audited with the operator; refused for viewers and open terminations', async () => {
    const created = JSON.parse(
      (await cli('terminate', ['--external-id', uniqueSubject('rv').externalId, '--playbook', 'quick', '--json'])).out,
    );
    const later = JSON.parse(
      (await cli('terminate', ['--external-id', uniqueSubject('rv').externalId, '--effective-at', tomorrow(), '--json'])).out,
    );
    const refused = await cli('reverify', [later.terminationId]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('termination is scheduled; only a completed termination is re-verified');
    await t.waitFor(created.terminationId, (x) => x.state === 'completed');
    expect((await cli('reverify', [created.terminationId], { DEPROVISIOND_TOKEN: VIEWER_TOKEN })).code).toBe(1);
    const queued = await cli('reverify', [created.terminationId]);
    expect(queued.code, queued.err).toBe(0);
    expect(queued.out).toContain(`queued 1 re-verification(s) of termination ${created.terminationId}`);
    expect(queued.out).toMatch(/\nfake\s+revoke_sessions\s+\S+/);
    const listed = await t.api('GET', `/admin/v1/terminations/${created.terminationId}/reverifications`, { token: VIEWER_TOKEN });
    expect(listed.status).toBe(200);
    const onDemand = (listed.body as { items: Array<Record<string, unknown>> }).items.filter((r) => r.reason === 'on_demand');
    expect(onDemand).toHaveLength(1);
    expect(onDemand[0]).not.toHaveProperty('leaseToken');
    await t.daemon.store.linkAudit();
    const audit = await t.daemon.store.listAuditOf(created.terminationId);
    expect(audit.map((a) => [a.action, a.actor])).toContainEqual(['termination.reverify_requested', 'admin:ops']);
    expect((await cli('reverify', ['no-such-termination'])).code).toBe(1);
  });

  it('terminate --wait follows the tasks until access is revoked (exit 0), or the termination fails (exit 1)', async () => {
    const ok = await cli('terminate', ['--external-id', uniqueSubject('wait').externalId, '--playbook', 'quick', '--wait']);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^termination ([0-9a-f-]{36}) (scheduled|running): waiting until every critical task is verified\n/);
    expect(ok.out).toMatch(/\n {2}revoke {23}succeeded\n/);
    expect(ok.out).toMatch(/\ntermination [0-9a-f-]{36}: access revoked at \S+ \(every critical task verified\); state completed\n$/);

    t.fake.script('revoke_sessions', { kind: 'throw', error: new PermanentError('missing scope') });
    const failed = await cli('terminate', ['--external-id', uniqueSubject('wait').externalId, '--playbook', 'quick', '--wait']);
    expect(failed.code).toBe(1);
    expect(failed.out).toMatch(/\n {2}revoke {23}failed {2}permanent: missing scope\n/);
    expect(failed.out).toMatch(/failed before its access was revoked; see `deprovisiond status [0-9a-f-]{36}`\n$/);
    expect((await cli('terminate', ['--external-id', 'x', '--wait', '--timeout', 'soon'])).code).toBe(2);
  });

  it('status --watch ends at once for a revoked termination and reports a scheduled one when the time runs out', async () => {
    const done = JSON.parse(
      (await cli('terminate', ['--external-id', uniqueSubject('watch').externalId, '--playbook', 'quick', '--json'])).out,
    );
    await t.waitFor(done.terminationId, (x) => x.state === 'completed');
    const watched = await cli('status', [done.terminationId, '--watch']);
    expect(watched.code).toBe(0);
    expect(watched.out).toContain(`termination ${done.terminationId}: access revoked at`);
    const later = JSON.parse(
      (await cli('terminate', ['--external-id', uniqueSubject('watch').externalId, '--effective-at', tomorrow(), '--json'])).out,
    );
    const waiting = await cli('status', [later.terminationId, '--watch', '--timeout', '1s']);
    expect(waiting.code).toBe(1);
    expect(waiting.out).toContain(`termination ${later.terminationId}: still scheduled when the time allowed ran out`);
  });

  it('terminate --from-csv plans every row first, creates them with --apply, and not twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-csv-'));
    try {
      const a = uniqueSubject('csv');
      const b = uniqueSubject('csv');
      const file = join(dir, 'leavers.csv');
      writeFileSync(
        file,
        `external-id,email,reason,effective-at\n${a.externalId},${a.emails[0]},resigned,${tomorrow()}\n${b.externalId},${b.emails[0]};${b.emails[0]!.replace('@', '+alt@')},contract ended,${tomorrow()}\n`,
      );
      const planned = await cli('terminate', ['--from-csv', file]);
      expect(planned.code).toBe(0);
      expect(planned.out).toMatch(/^LINE\s+SUBJECT\s+OUTCOME\s+DETAIL\n2\s+\S+\s+planned\s+2 tasks, playbook default\n3\s+\S+\s+planned/);
      expect(planned.out).toContain('2 row(s), 0 refused. Nothing was written: run again with --apply to create them.\n');
      expect((await t.daemon.store.listTerminations({ subjectKeys: [`ext:${a.externalId}`], limit: 5 })).items).toEqual([]);

      const applied = await cli('terminate', ['--from-csv', file, '--apply']);
      expect(applied.code).toBe(0);
      expect(applied.out).toMatch(/\n2\s+\S+\s+scheduled\s+[0-9a-f-]{36}\n3\s+\S+\s+scheduled\s+[0-9a-f-]{36}\n/);
      const again = await cli('terminate', ['--from-csv', file, '--apply', '--json']);
      expect(JSON.parse(again.out).rows.map((r: { detail: string }) => r.detail)).toEqual([
        expect.stringContaining('(already known)'),
        expect.stringContaining('(already known)'),
      ]);

      writeFileSync(file, 'external_id,email\nE1,x@example.com\n');
      const wrongColumn = await cli('terminate', ['--from-csv', file]);
      expect(wrongColumn.code).toBe(2);
      expect(wrongColumn.err).toContain('unknown column(s) external_id; expected some of: external-id, user-name, email');
      writeFileSync(file, 'external-id,email\nE1,not-an-email\n');
      const refused = await cli('terminate', ['--from-csv', file]);
      expect(refused.code).toBe(1);
      expect(refused.out).toMatch(/\n2\s+E1\s+refused\s+.*HTTP 400/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('list prints a table, pages with --cursor, and filters', async () => {
    const s = uniqueSubject('list');
    await cli('terminate', ['--external-id', s.externalId, '--email', s.emails[0]!, '--effective-at', tomorrow()]);
    const res = await cli('list', ['--subject', s.externalId]);
    expect(res.code).toBe(0);
    expect(res.out.split('\n')[0]).toMatch(/^ID\s+STATE\s+SUBJECT\s+SOURCE\s+PLAYBOOK\s+REQUESTED\s+EFFECTIVE$/);
    expect(res.out).toContain(s.emails[0]);
    const page = await cli('list', ['--limit', '1']);
    expect(page.out).toMatch(/more: --cursor \S+/);
    const json = JSON.parse((await cli('list', ['--limit', '1', '--json'])).out);
    expect(json.items).toHaveLength(1);
    expect(json.nextCursor).toEqual(expect.any(String));
  });

  it('cancel cancels; a second cancel exits 1 with the API error', async () => {
    const created = JSON.parse(
      (await cli('terminate', ['--external-id', uniqueSubject('c').externalId, '--effective-at', tomorrow(), '--json'])).out,
    );
    const res = await cli('cancel', [created.terminationId, '--reason', 'rehired']);
    expect(res).toMatchObject({ code: 0, out: `termination ${created.terminationId} cancelled\n` });
    const again = await cli('cancel', [created.terminationId]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/it can no longer be cancelled \(HTTP 409\)/);
  });

  it('exits 1 on HTTP errors without printing the token, and 2 on usage errors', async () => {
    const wrong = `${OPERATOR_TOKEN}-nope`;
    const denied = await cli('list', ['--token', wrong]);
    expect(denied.code).toBe(1);
    expect(denied.err).toContain('invalid bearer token (HTTP 401)');
    expect(denied.err + denied.out).not.toContain(wrong);
    const forbidden = await cli('cancel', [randomUUID()], { DEPROVISIOND_TOKEN: VIEWER_TOKEN });
    expect(forbidden).toMatchObject({ code: 1, err: expect.stringContaining('operator role required (HTTP 403)') });
    const missing = await cli('status', [randomUUID()]);
    expect(missing).toMatchObject({ code: 1, err: expect.stringContaining('not found (HTTP 404)') });
    const invalid = await cli('terminate', ['--email', 'nope']);
    expect(invalid.code).toBe(1);
    expect(invalid.err).toMatch(/subject\.emails\[0\]: /);

    expect((await cli('list', [], { DEPROVISIOND_TOKEN: undefined })).code).toBe(2);
    expect((await cli('terminate', ['--reason', 'x'])).code).toBe(2);
    expect((await cli('status', [])).code).toBe(2);
    expect((await cli('list', ['--bogus'])).code).toBe(2);
  });

  it('exits 1 when the daemon cannot be reached', async () => {
    const res = await cli('list', [], { DEPROVISIOND_URL: 'http://127.0.0.1:9' });
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9/);
  });

  it('is wired into the deprovisiond binary', async () => {
    const bin = join(dirname(fileURLToPath(import.meta.url)), '../bin/deprovisiond.js');
    const run = promisify(execFile);
    const ok = await run(process.execPath, [bin, 'list', '--json', '--limit', '1'], {
      env: { ...process.env, DEPROVISIOND_URL: t.url, DEPROVISIOND_TOKEN: VIEWER_TOKEN },
    });
    expect(JSON.parse(ok.stdout).items).toHaveLength(1);
    const failed = await run(process.execPath, [bin, 'list'], {
      env: { ...process.env, DEPROVISIOND_URL: t.url, DEPROVISIOND_TOKEN: 'wrong-token-wrong-token' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      // execFile fails with an error carrying the exit code and the output.
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('HTTP 401');
    const help = await run(process.execPath, [bin, 'help']);
    expect(help.stdout).toContain('  terminate ');
  });
});
