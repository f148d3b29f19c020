#!/usr/bin/env node
// Compiles the CLI front (src/cli.ts and the admin commands) into dist/cli.js with esbuild,
// so `deprovisiond status` starts without compiling TypeScript. Runs as npm's `prepare`
// (npm install, npm ci) and as `npm run build`. The daemon's modules are not bundled: the
// front loads them from src/ through tsx (src/cli/sources.ts). bin/deprovisiond.js uses
// dist/cli.js only while none of the inputs listed in dist/cli.inputs.json is newer.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('../', import.meta.url);
const result = await build({
  absWorkingDir: root.pathname,
  entryPoints: ['src/cli.ts'],
  outfile: 'dist/cli.js',
  write: false,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  define: { 'globalThis.DEPROVISIOND_COMPILED': 'true' },
  metafile: true,
  logLevel: 'warning',
});
const inputs = [...Object.keys(result.metafile.inputs), 'package.json'];
mkdirSync(new URL('dist/', root), { recursive: true });
// Written aside and renamed: a deprovisiond started meanwhile reads the old file or the new, never half of one.
replace('dist/cli.js', result.outputFiles[0].contents);
replace('dist/cli.inputs.json', `${JSON.stringify({ inputs }, null, 2)}\n`);

function replace(path, contents) {
  const target = new URL(path, root);
  const aside = new URL(`${path}.${process.pid}.tmp`, root);
  writeFileSync(aside, contents);
  renameSync(aside, target);
}
