/**
 * What each room may import (docs/architecture.md, "Where things live"), checked over the
 * static import graph of the sources: the engine knows the adapter contract and no provider
 * module; production start-up reaches no emulator (a sandbox is loaded on first use, only
 * when the config names one, or by the demo, bench and test tooling).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sources(path);
    return /\.(ts|mjs)$/.test(name) ? [path] : [];
  });
}

/**
 * Static value imports of one file (`import …from`, `export …from`), resolved to repository
 * paths. Type-only imports are erased at run time and dynamic `import()` is a deliberate
 * load on first use: neither is an edge.
 */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const edges: string[] = [];
  for (const match of text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'(\.[^']+)';/gms)) {
    if (match[1]) continue;
    edges.push(relative(ROOT, resolve(ROOT, dirname(file), match[2]!)));
  }
  for (const match of text.matchAll(/^import\s+'(\.[^']+)';/gm)) edges.push(relative(ROOT, resolve(ROOT, dirname(file), match[1]!)));
  return edges;
}

const files = [...sources('src'), ...sources('providers')];
const graph = new Map(files.map((file) => [file, importsOf(file)]));

/** Every file reachable from `start`, with the chain that reaches it. */
function reachable(start: string): Map<string, string[]> {
  const seen = new Map<string, string[]>([[start, [start]]]);
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const next of graph.get(file) ?? []) {
      if (seen.has(next)) continue;
      seen.set(next, [...seen.get(file)!, next]);
      queue.push(next);
    }
  }
  return seen;
}

const isEmulator = (file: string) => /^providers\/([^/]+\/sandbox\.ts|sandbox\/kit\.ts)$/.test(file);

describe('the import graph', () => {
  it('reads the graph it checks: the daemon reaches the engine and the provider kinds', () => {
    const fromDaemon = reachable('src/daemon.ts');
    expect(fromDaemon.has('src/engine/engine.ts')).toBe(true);
    expect(fromDaemon.has('providers/kinds.ts')).toBe(true);
    // The check would see a static edge to an emulator: the attempt worker reaches every adapter.
    expect(reachable('src/startup/attempt-worker.ts').has('providers/okta/adapter.ts')).toBe(true);
  });

  it('src/engine imports nothing from providers/ but the adapter contract', () => {
    const offending = files
      .filter((file) => file.startsWith('src/engine/'))
      .flatMap((file) =>
        graph
          .get(file)!
          .filter((to) => to.startsWith('providers/') && to !== 'providers/contract.ts')
          .map((to) => `${file} -> ${to}`),
      );
    expect(offending).toEqual([]);
  });

  it.each([
    // The vocabulary every room shares: it can depend on nothing of theirs.
    ['src/domain/', ['src/', 'providers/'], ['src/domain/']],
    // Sealing and keys: primitives the store uses; they know no room's data or I/O.
    ['src/privacy/', ['src/', 'providers/'], ['src/privacy/', 'src/domain/']],
    // The scheduler is driven by start-up and the surfaces, never the other way round.
    ['src/engine/', ['src/startup/', 'src/intake/', 'src/admin/', 'src/server/', 'src/console/', 'src/cli/', 'src/store/sql/'], []],
    // Persistence serves the engine and the surfaces; it calls none of them.
    [
      'src/store/',
      ['src/engine/', 'src/startup/', 'src/intake/', 'src/admin/', 'src/server/', 'src/console/', 'src/cli/', 'providers/'],
      [],
    ],
  ])('%s imports nothing (at run time) from the rooms above it', (room, forbidden, allowed) => {
    const offending = files
      .filter((file) => file.startsWith(room))
      .flatMap((file) =>
        graph
          .get(file)!
          .filter((to) => forbidden.some((prefix) => to.startsWith(prefix)) && !allowed.some((prefix) => to.startsWith(prefix)))
          .map((to) => `${file} -> ${to}`),
      );
    expect(offending).toEqual([]);
  });

  it('no production entry point reaches an emulator', () => {
    const entries = ['src/cli.ts', 'src/daemon.ts', 'src/startup/attempt-worker.ts'];
    const chains = entries.flatMap((entry) =>
      [...reachable(entry)].filter(([file]) => isEmulator(file)).map(([, chain]) => chain.join(' -> ')),
    );
    expect(chains).toEqual([]);
  });

  it('no file under providers/ but the adapter contract imports the typed errors from src/domain/errors.ts', () => {
    // Type-only imports count too: adapters know the contract, not the domain's files.
    const typedErrors = 'src/domain/errors.ts';
    const offending = files
      .filter((file) => file.startsWith('providers/') && file !== 'providers/contract.ts')
      .filter((file) => {
        const text = readFileSync(join(ROOT, file), 'utf8');
        return [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)';/gms)].some(
          (match) => relative(ROOT, resolve(ROOT, dirname(file), match[1]!)) === typedErrors,
        );
      });
    expect(offending).toEqual([]);
  });

  it('every provider kind loads its emulator on first use, by a dynamic import', () => {
    const kinds = files.filter((file) => /^providers\/[^/]+\/kind\.ts$/.test(file));
    expect(kinds.length).toBeGreaterThanOrEqual(7);
    for (const kind of kinds) expect(readFileSync(join(ROOT, kind), 'utf8'), kind).toMatch(/await import\('\.\/sandbox\.ts'\)/);
  });
});

describe('where attempts run', () => {
  it("is the config's choice: the daemon refuses injected modules unless engine.providerThread is false", async () => {
    const { startDaemon } = await import('../src/daemon.ts');
    const { parseConfig } = await import('../src/config/load.ts');
    const { silentLogger } = await import('../src/telemetry/logger.ts');
    const { oktaSandboxConfigYaml } = await import('./helpers/okta-config.ts');
    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-wiring-'));
    const config = parseConfig(
      oktaSandboxConfigYaml(dir, { name: 'ops', token: 'wiring-test-token-0123456789', role: 'operator' }),
      'test.yaml',
      {},
    );
    expect(config.engine.providerThread).toBe(true);
    try {
      await expect(startDaemon(config, { configFile: 'test.yaml', logger: silentLogger(), modules: new Map() })).rejects.toThrow(
        /engine\.providerThread to false/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
