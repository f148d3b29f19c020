/** `deprovisiond config check` refuses what `serve` refuses, naming the file, the path, the line and what was expected. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'config-check-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sandbox = readFileSync('config/sandbox.yaml', 'utf8');

async function check(text: string) {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  let out = '';
  let err = '';
  const code = await runCli(['config', 'check', '--config', file], { env: {}, out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) } });
  return { code, out, err, file };
}

/** The 1-based line of the first occurrence of `needle`. */
const lineOf = (text: string, needle: string) => text.slice(0, text.indexOf(needle)).split('\n').length;

describe('deprovisiond config check', () => {
  it('passes the sandbox config', async () => {
    const res = await check(sandbox);
    expect(res).toMatchObject({ code: 0, err: '', out: `${res.file}: ok\n` });
  }, 30_000);

  it('refuses a playbook step its provider cannot do, as serve does (a caep step that deletes accounts)', async () => {
    const text = sandbox.replace('- { id: caep-session-revoked, provider: signals, action: revoke_sessions }', '- { id: caep-session-revoked, provider: signals, action: delete_account }');
    const res = await check(text);
    expect(res.code).toBe(1);
    expect(res.err).toContain(`invalid configuration in ${res.file}:`);
    expect(res.err).toContain(
      `playbooks.employee.steps[7].action (line ${lineOf(text, 'action: delete_account }')}): provider signals (caep) supports revoke_sessions, not delete_account`,
    );
  }, 30_000);

  it('refuses an unknown key in provider settings, with the line and the key it was meant to be', async () => {
    const text = sandbox.replace('  google:\n    kind: google\n    sandbox: { autoProvision: true }', '  google:\n    kind: google\n    rootURL: https://example.test/\n    sandbox: { autoProvision: true }');
    const res = await check(text);
    expect(res.code).toBe(1);
    expect(res.err).toContain(`providers.google.rootURL (line ${lineOf(text, 'rootURL')}): unknown key "rootURL"; did you mean "rootUrl"?`);
  }, 30_000);

  it('refuses a misspelt sandbox fault', async () => {
    const text = sandbox.replace('    sandbox: { autoProvision: true }\n    limits: { concurrency: 8 }\n  google:', '    sandbox: { autoProvision: true, faults: { lyingrate: 0.5 } }\n    limits: { concurrency: 8 }\n  google:');
    const res = await check(text);
    expect(res.code).toBe(1);
    expect(res.err).toContain(`providers.okta.sandbox.faults.lyingrate (line ${lineOf(text, 'lyingrate')}): unknown key "lyingrate"; did you mean "lyingRate"?`);
  });

  it('says what is wrong inside a store block instead of "Invalid input"', async () => {
    const text = sandbox.replace('  sqlite:\n    path:', '  sqlite:\n    journal: wal\n    path:');
    const res = await check(text);
    expect(res.code).toBe(1);
    expect(res.err).toContain(`store.sqlite.journal (line ${lineOf(text, 'journal')}): unknown key "journal" (expected one of: path)`);
    expect(res.err).not.toMatch(/Invalid input\s*$/m);
  });
});
