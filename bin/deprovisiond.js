#!/usr/bin/env node
// Runs the compiled CLI front (dist/cli.js, built by `npm run build`, which npm install
// runs) when it is there and no source it was built from is newer; otherwise the
// TypeScript sources through tsx, as in the container image, which ships no dist/.
import { readFileSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const compiled = freshBuild();
if (compiled) {
  await import(compiled);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}

/** The URL of dist/cli.js, or null when it is missing or older than any of its inputs. */
function freshBuild() {
  try {
    const built = statSync(new URL('dist/cli.js', root)).mtimeMs;
    const { inputs } = JSON.parse(readFileSync(new URL('dist/cli.inputs.json', root), 'utf8'));
    return inputs.every((file) => statSync(new URL(file, root)).mtimeMs <= built) ? new URL('dist/cli.js', root).href : null;
  } catch {
    return null;
  }
}
