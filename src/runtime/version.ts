/** The package's version, read from package.json once. */
import { readFileSync } from 'node:fs';

let cached: string | null = null;

export function version(): string {
  // dist/cli.js sits one level below the package root, src/runtime/version.ts two.
  const file = globalThis.DEPROVISIOND_COMPILED
    ? new URL('../package.json', import.meta.url)
    : new URL('../../package.json', import.meta.url);
  cached ??= (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  return cached;
}
