/**
 * The Dockerfile, checked without a Docker engine: what it copies exists and is not
 * ignored, the runtime import graph is inside what it copies and needs no dev
 * dependency, the entrypoint and command run the real CLI, the HEALTHCHECK command
 * passes against a running daemon (and fails against a stopped one), the user is not
 * root, and the port, volumes and environment agree with the config defaults.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { isBuiltin } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';
import { ATTEMPT_THREAD_OLD_SPACE_MB } from '../src/startup/attempt-thread.ts';
import { copyParts, dockerIgnored, envOf, execForm, parseDockerfile, type Stage } from './helpers/dockerfile.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const ignorePatterns = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
};

/** Only what the schema requires, so every other value is its default. */
const MINIMAL_CONFIG = `
store: { sqlite: { path: x.db } }
providers: { x: { kind: okta } }
playbooks: { p: { steps: [{ id: a, provider: x, action: revoke_sessions }] } }
defaultPlaybook: p
`;

const runtime = dockerfile.stages.at(-1)!;
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const last = (stage: Stage, keyword: string) => all(stage, keyword).at(-1)?.args;

/** Repository paths the runtime stage copies from the build context, keyed by their image path. */
function runtimeCopies(): Array<{ source: string; imagePath: string }> {
  const workdir = last(runtime, 'WORKDIR') ?? '/';
  return all(runtime, 'COPY')
    .map((i) => copyParts(i.args))
    .filter((c) => c.from === undefined)
    .flatMap((c) =>
      c.sources.map((source) => {
        const dest = posix.resolve(workdir, c.dest);
        // `COPY a b ./` puts each file into the directory; `COPY dir ./dir` copies the directory's contents there.
        const imagePath = c.dest.endsWith('/') || c.sources.length > 1 ? posix.join(dest, posix.basename(source)) : dest;
        return { source: normalize(source), imagePath };
      }),
    );
}

/** The repository file for an absolute path inside the image, or undefined when no COPY puts it there. */
function repoPathFor(imagePath: string): string | undefined {
  for (const { source, imagePath: copied } of runtimeCopies()) {
    if (imagePath === copied) return source;
    if (imagePath.startsWith(`${copied}/`)) return join(source, imagePath.slice(copied.length + 1));
  }
  return undefined;
}

function isCopied(repoPath: string): boolean {
  return runtimeCopies().some(({ source }) => repoPath === source || repoPath.startsWith(`${source}/`));
}

/** Relative and bare imports of one module; `import type` / `export type` are erased by tsx and skipped. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?[^'";]*?\sfrom\s+['"]([^'"]+)['"]/gm)) if (!m[1]) found.push(m[2]!);
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) found.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1]!);
  return found;
}

/** Every module the entrypoint can load, walked from bin/deprovisiond.js; bare specifiers listed apart. */
function runtimeModuleGraph(entry: string): { files: Set<string>; packages: Map<string, string> } {
  const files = new Set<string>();
  const packages = new Map<string, string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const specifier of importsOf(join(ROOT, file))) {
      if (specifier.startsWith('.')) {
        let target = normalize(join(dirname(file), specifier));
        if (!existsSync(join(ROOT, target)) && target.endsWith('.js')) target = target.replace(/\.js$/, '.ts');
        if (!existsSync(join(ROOT, target))) throw new Error(`${file} imports ${specifier}, which does not exist`);
        queue.push(target);
      } else if (!isBuiltin(specifier)) {
        const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
        packages.set(name, file);
      }
    }
  }
  return { files, packages };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

function runHealthcheck(env: NodeJS.ProcessEnv): number | null {
  const [, ...args] = healthcheckCommand();
  return spawnSync(process.execPath, args, { env, timeout: 10_000 }).status;
}

function healthcheckCommand(): string[] {
  const args = last(runtime, 'HEALTHCHECK');
  if (!args) throw new Error('no HEALTHCHECK in the runtime stage');
  const cmd = /^(?:--\S+\s+)*CMD\s+(.*)$/s.exec(args);
  if (!cmd) throw new Error(`HEALTHCHECK without CMD: ${args}`);
  return execForm(cmd[1]!);
}

/** ENTRYPOINT without the init wrapper, from `node` on. */
function nodeCommand(): string[] {
  const entrypoint = execForm(last(runtime, 'ENTRYPOINT')!);
  const at = entrypoint.indexOf('node');
  if (at < 0) throw new Error(`ENTRYPOINT does not run node: ${entrypoint.join(' ')}`);
  return entrypoint.slice(at);
}

describe('Dockerfile', () => {
  it('builds native modules in a build stage and runs on node:20-bookworm-slim', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    const build = dockerfile.stages.find((s) => all(s, 'RUN').some((r) => /\bnpm ci\b/.test(r.args)));
    expect(build, 'a stage that runs npm ci').toBeDefined();
    expect(build).not.toBe(runtime);
    const buildRuns = all(build!, 'RUN')
      .map((r) => r.args)
      .join('\n');
    for (const tool of ['python3', 'make', 'g++'])
      expect(buildRuns).toMatch(new RegExp(`apt-get install[^\\n]*\\s${tool.replace('+', '\\+')}(\\s|$)`));
    expect(buildRuns).toMatch(/npm prune --omit=dev|npm ci[^\n]*--omit=dev/);
    expect(runtime.base).toBe('node:20-bookworm-slim');
    // The runtime stage compiles nothing and installs no dev dependencies.
    expect(
      all(runtime, 'RUN')
        .map((r) => r.args)
        .join('\n'),
    ).not.toMatch(/npm (ci|install)|g\+\+/);
  });

  it('copies only files that exist in the repository and that .dockerignore lets through', () => {
    const sources = dockerfile.stages
      .flatMap((s) => all(s, 'COPY').map((i) => copyParts(i.args)))
      .filter((c) => c.from === undefined)
      .flatMap((c) => c.sources);
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(join(ROOT, source)), `COPY ${source}: missing in the repository`).toBe(true);
      expect(dockerIgnored(ignorePatterns, normalize(source)), `COPY ${source}: excluded by .dockerignore`).toBe(false);
    }
    // And the big or private things stay out of the build context.
    for (const path of ['node_modules', '.git', 'test-results', 'data/deprovisiond.db', 'tests'])
      expect(dockerIgnored(ignorePatterns, path), path).toBe(true);
  });

  it('copies from build stages that exist, out of the directory where npm ran', () => {
    for (const stage of dockerfile.stages) {
      for (const copy of all(stage, 'COPY')
        .map((i) => copyParts(i.args))
        .filter((c) => c.from !== undefined)) {
        const from = dockerfile.stages.find((s) => s.name === copy.from);
        expect(from, `COPY --from=${copy.from}: no such stage`).toBeDefined();
        const workdir = last(from!, 'WORKDIR')!;
        for (const source of copy.sources) expect(source.startsWith(`${workdir}/`), `${source} is outside ${workdir}`).toBe(true);
      }
    }
    expect(all(runtime, 'COPY').some((i) => /--from=\S+\s+\S*node_modules\s/.test(`${i.args} `))).toBe(true);
  });

  it('copies every module the entrypoint can load, and every package it imports is a production dependency', () => {
    const entry = relative(ROOT, join(ROOT, repoPathFor(posix.resolve(last(runtime, 'WORKDIR')!, nodeCommand()[1]!)) ?? 'missing'));
    expect(existsSync(join(ROOT, entry)), `entrypoint script ${entry}`).toBe(true);
    const { files, packages } = runtimeModuleGraph(entry);
    expect(files.has('src/cli.ts') && files.has('src/daemon.ts')).toBe(true);
    for (const file of files) expect(isCopied(file), `${file} is loaded at run time but not copied into the image`).toBe(true);
    // `npm prune --omit=dev` removes devDependencies: the image would fail at the first import.
    for (const [name, importer] of packages)
      expect(pkg.dependencies[name], `${importer} imports ${name}, not a production dependency`).toBeDefined();
    expect(pkg.dependencies.tsx, 'tsx runs the sources in the image').toBeDefined();
    expect(isCopied('tsconfig.json'), 'tsx reads tsconfig.json (verbatimModuleSyntax)').toBe(true);
    expect(isCopied('config/sandbox.yaml'), '`deprovisiond demo` reads config/sandbox.yaml').toBe(true);
  });

  it('runs under tini as PID 1, with an exec-form entrypoint and command', () => {
    const entrypoint = execForm(last(runtime, 'ENTRYPOINT')!);
    const cmd = execForm(last(runtime, 'CMD')!);
    expect(entrypoint.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(
      all(runtime, 'RUN').some((r) => /apt-get install[^\n]*\stini(\s|$)/.test(r.args)),
      'tini installed in the runtime stage',
    ).toBe(true);
    expect(nodeCommand()).toEqual(['node', 'bin/deprovisiond.js']);
    expect(cmd).toEqual(['serve', '--config', '/etc/deprovisiond/config.yaml']);
    expect(last(runtime, 'STOPSIGNAL') ?? 'SIGTERM').toBe('SIGTERM');
  });

  it('its command is one the CLI knows: serve --config FILE reads exactly that file', () => {
    const cmd = execForm(last(runtime, 'CMD')!);
    const missing = join(mkdtempSync(join(tmpdir(), 'deprovisiond-docker-')), 'config.yaml');
    try {
      const args = cmd.map((a) => (a === '/etc/deprovisiond/config.yaml' ? missing : a));
      const run = spawnSync(process.execPath, [...nodeCommand().slice(1), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
      // A known command with its option reaches the config loader, which names the file.
      expect(run.stderr).not.toMatch(/unknown command|usage:/);
      expect(run.stderr).toContain(`invalid configuration in ${missing}`);
      expect(run.stderr).toContain('cannot read the file: ENOENT');
      expect(run.status).toBe(1);
    } finally {
      rmSync(dirname(missing), { recursive: true, force: true });
    }
  });

  it('does not run as root, and owns its data volume', () => {
    const user = last(runtime, 'USER');
    expect(user, 'USER in the runtime stage').toBeDefined();
    // Numeric, so Kubernetes runAsNonRoot can verify it without /etc/passwd.
    const [uid, gid] = user!.split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    const runs = all(runtime, 'RUN')
      .map((r) => r.args)
      .join('\n');
    expect(runs).toContain(`--uid ${uid}`);
    expect(runs).toMatch(new RegExp(`chown ${uid}:${gid ?? uid} /var/lib/deprovisiond(\\s|$)`));
    // USER comes before the ENTRYPOINT takes effect; nothing after it switches back.
    const instructions = runtime.instructions.map((i) => i.keyword);
    expect(instructions.lastIndexOf('USER')).toBeGreaterThan(instructions.lastIndexOf('RUN'));
  });

  it('exposes the default port, and declares the config and data volumes the command and ENV use', () => {
    const defaults = parseConfig(MINIMAL_CONFIG, 'minimal.yaml', {});
    const env = envOf(runtime);
    expect(last(runtime, 'EXPOSE')).toBe(String(defaults.server.port));
    expect(env.PORT).toBe(String(defaults.server.port));
    expect(env.HOST).toBe('0.0.0.0');
    const volumes = execForm(last(runtime, 'VOLUME')!);
    expect(volumes).toEqual(expect.arrayContaining(['/etc/deprovisiond', '/var/lib/deprovisiond']));
    const configFile = execForm(last(runtime, 'CMD')!).at(-1)!;
    expect(posix.dirname(configFile)).toBe('/etc/deprovisiond');
    expect(env.DATA_DIR).toBe('/var/lib/deprovisiond');
  });

  it('caps the V8 heaps inside the memory the Kubernetes deployment allows, and requests what the bench measured', () => {
    const options = envOf(runtime).NODE_OPTIONS ?? '';
    const cap = /--max-old-space-size=(\d+)/.exec(options);
    const semi = /--max-semi-space-size=(\d+)/.exec(options);
    expect(cap, 'NODE_OPTIONS sets --max-old-space-size').not.toBeNull();
    expect(semi, 'NODE_OPTIONS sets --max-semi-space-size').not.toBeNull();
    const deployment = readFileSync(join(ROOT, 'deploy/kubernetes/deployment.yaml'), 'utf8');
    const request = Number(/requests:[\s\S]*?memory:\s*(\d+)Mi/.exec(deployment)![1]);
    const limit = Number(/limits:[\s\S]*?memory:\s*(\d+)Mi/.exec(deployment)![1]);
    // Both threads at their old-space caps, each young generation (3 semi-spaces), code and native memory must fit the limit.
    const young = 2 * 3 * Number(semi![1]);
    expect(Number(cap![1]) + ATTEMPT_THREAD_OLD_SPACE_MB + young + 64).toBeLessThanOrEqual(limit);
    // The mass-termination bench's peak RSS target (docs/benchmarks.md) is what a pod needs under a burst.
    expect(request).toBeGreaterThanOrEqual(300);
  });

  it('the HEALTHCHECK command passes against the daemon started as the image would start it, and fails once it stops', async () => {
    const [program, flag, script] = healthcheckCommand();
    expect([program, flag]).toEqual(['node', '-e']);
    expect(script).toContain('/healthz');
    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-docker-'));
    // The image's ENV, except a loopback host and a free port on this machine; the
    // documented quick start mounts config/sandbox.yaml as the config file.
    const env = { ...process.env, ...envOf(runtime), HOST: '127.0.0.1', PORT: String(await freePort()), DATA_DIR: dir };
    const args = execForm(last(runtime, 'CMD')!).map((a) =>
      a === '/etc/deprovisiond/config.yaml' ? join(ROOT, 'config/sandbox.yaml') : a,
    );
    const child = spawn(process.execPath, [...nodeCommand().slice(1), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let output = '';
      await new Promise<void>((done, fail) => {
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('deprovisiond started')) done();
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.on('exit', (code) => fail(new Error(`exited early with ${code}: ${output}`)));
      });
      expect(runHealthcheck(env)).toBe(0);
      expect(statSync(join(dir, 'deprovisiond.db')).isFile(), 'the store lives in DATA_DIR').toBe(true);
      const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(runHealthcheck(env)).not.toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
    // The sandbox config starts every provider's emulator (fifteen now) before the daemon
    // listens: on a loaded 2-core machine that alone took over vitest's default 30 s.
  }, 120_000);

  it('the HEALTHCHECK command fails on an unhealthy answer, not only on no answer', async () => {
    const unhealthy = createHttpServer((_req, res) => res.writeHead(503).end('{"status":"not ok"}'));
    await new Promise<void>((done) => unhealthy.listen(0, '127.0.0.1', done));
    try {
      const { port } = unhealthy.address() as { port: number };
      // spawnSync would block the event loop this server answers on: run it asynchronously.
      const [, ...args] = healthcheckCommand();
      const child = spawn(process.execPath, args, { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
      const code = await new Promise<number | null>((done) => child.on('exit', done));
      expect(code).not.toBe(0);
    } finally {
      await new Promise<void>((done) => unhealthy.close(() => done()));
    }
  });

  it('every `npm run X` it runs is a package.json script', () => {
    for (const stage of dockerfile.stages) {
      for (const run of all(stage, 'RUN')) {
        for (const m of run.args.matchAll(/\bnpm run(?:-script)?\s+([\w:.-]+)/g))
          expect(pkg.scripts[m[1]!], `npm run ${m[1]}`).toBeDefined();
      }
    }
  });
});
