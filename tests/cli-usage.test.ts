/** The CLI as a newcomer meets it: help on every command, version, usage errors, JSON errors, closed pipes. */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/cli/commands.ts';
import { runCli } from '../src/cli/main.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin/deprovisiond.js');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

async function cli(argv: string[], env: Record<string, string | undefined> = {}) {
  let out = '';
  let err = '';
  const code = await runCli(argv, { env, out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

describe('deprovisiond help', () => {
  it.each(COMMANDS.map((c) => c.name))('%s --help prints usage, options and an example, exit 0; help %s prints the same', async (name) => {
    const words = name.split(' ');
    const res = await cli([...words, '--help']);
    expect(res).toMatchObject({ code: 0, err: '' });
    expect(res.out).toContain(`Usage:\n  deprovisiond ${name} `);
    expect(res.out).toMatch(/Options:\n[\s\S]*-h, --help[\s\S]*Example:\n  deprovisiond /);
    expect(res.out).toContain('2  usage error');
    expect((await cli([...words, '-h'])).out).toBe(res.out);
    expect((await cli(['help', ...words])).out).toBe(res.out);
  });

  it('lists every command, says where the daemon is found, and gives the exit codes', async () => {
    const res = await cli(['--help']);
    expect(res.code).toBe(0);
    for (const c of COMMANDS) expect(res.out).toContain(`  ${c.name} `);
    expect(res.out).toContain('$DEPROVISIOND_URL (default http://127.0.0.1:8080');
    expect(res.out).toMatch(/Exit codes:\n  0  done\n  1  failed[^\n]*\n  2  usage error/);
    expect((await cli(['help'])).out).toBe(res.out);
    // No command at all is a usage error: the help goes to stderr, exit 2.
    expect(await cli([])).toMatchObject({ code: 2, out: '', err: res.out });
  });

  it('--version prints the package version', async () => {
    expect(await cli(['--version'])).toEqual({ code: 0, out: `deprovisiond ${pkg.version}\n`, err: '' });
  });

  it('config and audit alone list their subcommands', async () => {
    expect(await cli(['config', '--help'])).toMatchObject({ code: 0, out: expect.stringContaining('config check') });
    const bare = await cli(['config']);
    expect(bare.code).toBe(2);
    expect(bare.err).toContain('config needs one of: check');
    expect((await cli(['audit'])).err).toContain('audit needs one of: verify');
  });
});

describe('deprovisiond completion', () => {
  it("prints a bash script that completes commands, subcommands and each command's options", async () => {
    const res = await cli(['completion', 'bash']);
    expect(res.code).toBe(0);
    const complete = (words: string[]) =>
      spawnSync(
        'bash',
        [
          '-c',
          `${res.out}\nCOMP_WORDS=(${words.map((w) => `"${w}"`).join(' ')}); COMP_CWORD=${words.length - 1}; _deprovisiond; echo "\${COMPREPLY[@]}"`,
        ],
        { encoding: 'utf8' },
      ).stdout.trim();
    expect(complete(['deprovisiond', 'con'])).toBe('config');
    expect(complete(['deprovisiond', 'config', ''])).toBe('check');
    expect(complete(['deprovisiond', 'config', 'check', '--c'])).toBe('--config');
    expect(complete(['deprovisiond', 'status', '--w'])).toBe('--wide --watch');
    expect(complete(['deprovisiond', 'replay', '--t'])).toBe('--task --token');
    expect((await cli(['completion', 'zsh'])).out).toMatch(/^autoload -U \+X bashcompinit && bashcompinit\n# deprovisiond completion/);
    expect((await cli(['completion', 'fish'])).code).toBe(2);
  });
});

describe('deprovisiond usage errors (exit 2)', () => {
  it.each([
    [['config', 'check'], 'config check needs --config FILE'],
    [['audit', 'verify'], 'audit verify needs --config FILE'],
    [['serve'], 'serve needs --config FILE'],
    [['bogus'], 'unknown command "bogus"'],
    [['status', '--bogus'], "Unknown option '--bogus'"],
    [['complete', 'x', '--outcome', 'done', '--reason', 'r'], 'expected ID and STEP'],
  ])('%j', async (argv, message) => {
    const res = await cli(argv, { DEPROVISIOND_TOKEN: 'irrelevant-token-0001' });
    expect(res.code).toBe(2);
    expect(res.err).toContain(message);
    expect(res.err).toContain('Usage:');
    expect(res.out).toBe('');
  });

  it('with --json, a usage error is one JSON object on stderr', async () => {
    const res = await cli(['config', 'check', '--json']);
    expect(res.code).toBe(2);
    expect(JSON.parse(res.err)).toEqual({
      error: { kind: 'usage', exitCode: 2, command: 'config check', message: expect.stringContaining('needs --config FILE') },
    });
  });
});

describe('deprovisiond errors as JSON (exit 1)', () => {
  it('an unreachable daemon', async () => {
    const res = await cli(['list', '--json'], { DEPROVISIOND_URL: 'http://127.0.0.1:9', DEPROVISIOND_TOKEN: 'irrelevant-token-0001' });
    expect(res.code).toBe(1);
    expect(res.out).toBe('');
    expect(JSON.parse(res.err).error).toMatchObject({
      kind: 'unreachable',
      exitCode: 1,
      command: 'list',
      status: null,
      message: expect.stringContaining('cannot reach http://127.0.0.1:9'),
    });
  });

  it('an invalid config, with every problem listed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-usage-'));
    try {
      const file = join(dir, 'bad.yaml');
      writeFileSync(file, 'store: { sqlite: { path: x.db } }\nproviders: {}\nplaybooks: {}\ndefaultPlaybook: nope\n');
      const res = await cli(['config', 'check', '--config', file, '--json']);
      expect(res.code).toBe(1);
      const { error } = JSON.parse(res.err);
      expect(error).toMatchObject({ kind: 'config', exitCode: 1, file });
      expect(error.problems).toEqual(expect.arrayContaining([expect.stringMatching(/^defaultPlaybook \(line 4\): /)]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the deprovisiond binary', () => {
  it('answers --version and --help with exit 0', async () => {
    const run = promisify(execFile);
    expect((await run(process.execPath, [BIN, '--version'])).stdout).toBe(`deprovisiond ${pkg.version}\n`);
    expect((await run(process.execPath, [BIN, 'status', '--help'])).stdout).toContain('deprovisiond status ID');
  });

  it('builds a compiled front that answers by itself and loads the daemon commands from the sources', () => {
    expect(spawnSync(process.execPath, ['scripts/build-cli.mjs'], { cwd: ROOT, encoding: 'utf8' }).status).toBe(0);
    const front = join(ROOT, 'dist/cli.js');
    expect(spawnSync(process.execPath, [front, '--version'], { encoding: 'utf8' }).stdout).toBe(`deprovisiond ${pkg.version}\n`);
    const check = spawnSync(process.execPath, [front, 'config', 'check', '--config', 'config/sandbox.yaml'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    // The verdict, then the sandbox playbook's three notes (tests/config-check.test.ts checks their text).
    expect(check.stdout).toMatch(
      /^config\/sandbox\.yaml: ok\n(note: playbooks\.employee\.steps\[\d+\] \(line \d+\): playbook employee: [a-z]+-delete .*\n){3}$/,
    );
    expect(check.status).toBe(0);
  }, 60_000);

  it('stops quietly when the reader of its output has gone (EPIPE)', () => {
    // `true` exits at once, long before node writes: every write meets a closed pipe.
    const res = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" help | true`], { encoding: 'utf8', timeout: 30_000 });
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
  });
});
