import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError } from '../providers/contract.ts';
import { runAdminCommand, type AdminCommand } from '../src/cli/commands.ts';
import { OPERATOR_TOKEN, VIEWER_TOKEN, startTestDaemon, uniqueSubject, type TestDaemon } from './helpers/admin-daemon.ts';

let t: TestDaemon;

beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t?.stop();
});

/** Runs a command in-process, as `deprovisiond <command> ...` would, with its output captured. */
async function cli(command: AdminCommand, args: string[], env: Record<string, string | undefined> = {}) {
  let out = '';
  let err = '';
  const code = await runAdminCommand(command, args, {
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
    expect(JSON.parse(again.out)).toMatchObject({ duplicate: false, outcome: 'joined', state: 'scheduled', termination: { reason: 'last day', createdBy: 'admin:ops' } });
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
    const created = JSON.parse((await cli('terminate', ['--external-id', uniqueSubject('st').externalId, '--playbook', 'quick', '--json'])).out);
    await t.waitFor(created.terminationId, (x) => x.state === 'failed');
    const status = await cli('status', [created.terminationId]);
    expect(status.code).toBe(1);
    expect(status.out).toContain(`termination ${created.terminationId}: failed`);
    expect(status.out).toMatch(/revoke\s+fake\s+revoke_sessions\s+failed\s+1 .*permanent: missing scope/);

    const replay = await cli('replay', [created.terminationId]);
    expect(replay.code).toBe(0);
    expect(replay.out).toContain('replayed 1 task(s)');
    await t.waitFor(created.terminationId, (x) => x.state === 'completed');
    const done = await cli('status', [created.terminationId, '--json']);
    expect(done.code).toBe(0);
    expect(JSON.parse(done.out).termination.state).toBe('completed');
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
    const created = JSON.parse((await cli('terminate', ['--external-id', uniqueSubject('c').externalId, '--effective-at', tomorrow(), '--json'])).out);
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
    const failed = await run(process.execPath, [bin, 'list'], { env: { ...process.env, DEPROVISIOND_URL: t.url, DEPROVISIOND_TOKEN: 'wrong-token-wrong-token' } }).catch((e) => e);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('HTTP 401');
    const help = await run(process.execPath, [bin, 'help']);
    expect(help.stdout).toContain('terminate SUBJECT');
  });
});
