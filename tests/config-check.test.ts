/** `deprovisiond config check` refuses what `serve` refuses, naming the file, the path, the line and what was expected. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { runCli } from '../src/cli/main.ts';
import { checkConfig } from '../src/cli/local/config-check.ts';
import { configSchema } from '../src/config/schema.ts';
import { startDaemon } from '../src/daemon.ts';
import { createLogger } from '../src/telemetry/logger.ts';
import { createTestModule, inlineAttemptsIn } from './helpers/test-module.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'config-check-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sandbox = readFileSync('config/sandbox.yaml', 'utf8');

async function check(text: string, flags: string[] = []) {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  let out = '';
  let err = '';
  const code = await runCli(['config', 'check', '--config', file, ...flags], {
    env: {},
    out: { write: (s: string) => (out += s) },
    err: { write: (s: string) => (err += s) },
  });
  return { code, out, err, file };
}

/** The index of a step of the employee playbook, so adding steps elsewhere moves no expectation. */
const stepIndex = (text: string, id: string) =>
  (parseYaml(text) as { playbooks: { employee: { steps: Array<{ id: string }> } } }).playbooks.employee.steps.findIndex((s) => s.id === id);

/** The 1-based line of the first occurrence of `needle`. */
const lineOf = (text: string, needle: string) => text.slice(0, text.indexOf(needle)).split('\n').length;

describe('deprovisiond config check', () => {
  it('passes the sandbox config, with a note for each destructive step that waits for more than its after list names', async () => {
    const res = await check(sandbox);
    const steps = (parseYaml(sandbox) as { playbooks: { employee: { steps: Array<{ id: string }> } } }).playbooks.employee.steps;
    const note = (provider: string) =>
      `note: playbooks.employee.steps[${steps.findIndex((step) => step.id === `${provider}-delete`)}] (line ${lineOf(sandbox, `id: ${provider}-delete`)}): playbook employee: ${provider}-delete (delete_account at ${provider}) also waits for ${provider}-revoke-sessions, which its after list does not name: the engine waits for every other step at ${provider} before a destructive one\n`;
    expect(res).toMatchObject({
      code: 0,
      err: '',
      out: `${res.file}: ok\n${note('google')}${note('microsoft')}${note('okta')}`,
    });
  }, 30_000);

  it('gives the notes in --json too, and none for a playbook whose after lists say it all', async () => {
    const res = await check(sandbox, ['--json']);
    expect(res.code).toBe(0);
    const answer = JSON.parse(res.out) as { file: string; ok: boolean; notes: string[] };
    expect(answer).toMatchObject({ file: res.file, ok: true });
    expect(answer.notes.map((n) => /: playbook employee: (\S+)/.exec(n)?.[1])).toEqual([
      'google-delete',
      'microsoft-delete',
      'okta-delete',
    ]);

    const explicit = sandbox
      .replace(/after: \[(\w+)-transfer-files, /, 'after: [$1-revoke-sessions, $1-transfer-files, ')
      .replace(/after: \[(\w+)-share-onedrive, /, 'after: [$1-revoke-sessions, $1-share-onedrive, ')
      .replace('after: [okta-remove-groups', 'after: [okta-revoke-sessions, okta-remove-groups');
    const quiet = await check(explicit, ['--json']);
    expect(quiet.code, quiet.err).toBe(0);
    expect(JSON.parse(quiet.out)).toEqual({ file: quiet.file, ok: true, notes: [] });
  }, 60_000);

  it('refuses a playbook step its provider cannot do, as serve does (a caep step that deletes accounts)', async () => {
    const text = sandbox.replace(
      '- { id: caep-session-revoked, provider: signals, action: revoke_sessions }',
      '- { id: caep-session-revoked, provider: signals, action: delete_account }',
    );
    const res = await check(text);
    expect(res.code).toBe(1);
    expect(res.err).toContain(`invalid configuration in ${res.file}:`);
    expect(res.err).toContain(
      `playbooks.employee.steps[${stepIndex(text, 'caep-session-revoked')}].action (line ${lineOf(text, 'action: delete_account }')}): provider signals (caep) supports revoke_sessions, not delete_account`,
    );
  }, 30_000);

  it('refuses an unknown key in provider settings, with the line and the key it was meant to be', async () => {
    const text = sandbox.replace(
      '  google:\n    kind: google\n    sandbox: { autoProvision: true }',
      '  google:\n    kind: google\n    rootURL: https://example.test/\n    sandbox: { autoProvision: true }',
    );
    const res = await check(text);
    expect(res.code).toBe(1);
    expect(res.err).toContain(`providers.google.rootURL (line ${lineOf(text, 'rootURL')}): unknown key "rootURL"; did you mean "rootUrl"?`);
  }, 30_000);

  it('refuses a misspelt sandbox fault', async () => {
    const text = sandbox.replace(
      '    sandbox: { autoProvision: true }\n    limits: { concurrency: 8 }\n  google:',
      '    sandbox: { autoProvision: true, faults: { lyingrate: 0.5 } }\n    limits: { concurrency: 8 }\n  google:',
    );
    const res = await check(text);
    expect(res.code).toBe(1);
    expect(res.err).toContain(
      `providers.okta.sandbox.faults.lyingrate (line ${lineOf(text, 'lyingrate')}): unknown key "lyingrate"; did you mean "lyingRate"?`,
    );
  });

  it('says what is wrong inside a store block instead of "Invalid input"', async () => {
    const text = sandbox.replace('  sqlite:\n    path:', '  sqlite:\n    journal: wal\n    path:');
    const res = await check(text);
    expect(res.code).toBe(1);
    expect(res.err).toContain(`store.sqlite.journal (line ${lineOf(text, 'journal')}): unknown key "journal" (expected one of: path)`);
    expect(res.err).not.toMatch(/Invalid input\s*$/m);
  });
});

describe('serve and config check share their checks', () => {
  it('serve logs each note config check prints, once, at info', async () => {
    const config = inlineAttemptsIn(
      configSchema.parse({
        server: { host: '127.0.0.1', port: 0 },
        store: { sqlite: { path: join(dir, 'notes.db') } },
        providers: { fake: { kind: 'fake' } },
        playbooks: {
          leaver: {
            steps: [
              { id: 'revoke', provider: 'fake', action: 'revoke_sessions' },
              { id: 'disable', provider: 'fake', action: 'disable_account' },
              { id: 'delete', provider: 'fake', action: 'delete_account', after: ['disable'] },
            ],
          },
        },
        defaultPlaybook: 'leaver',
      }),
    );
    const { modules } = createTestModule();
    const notes = await checkConfig(config, 'notes.yaml', modules);
    expect(notes).toEqual([
      expect.stringContaining('playbook leaver: delete (delete_account at fake) also waits for revoke, which its after list does not name'),
    ]);

    const logs: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(line) } });
    const daemon = await startDaemon(config, { configFile: 'notes.yaml', logger, modules, runEngine: false });
    await daemon.stop();
    const logged = logs
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .filter((line) => line.msg.startsWith('config note: '));
    expect(logged).toEqual([expect.objectContaining({ level: 30, msg: `config note: ${notes[0]}` })]);
  });
});
