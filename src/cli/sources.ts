/**
 * The compiled CLI front (dist/cli.js, built by scripts/build-cli.mjs) holds the command
 * table and the admin commands only. The daemon's own modules (serve, demo, config check,
 * audit verify) stay TypeScript: the front registers tsx the first time one is needed and
 * loads it from src/. Run from the sources, bin/deprovisiond.js has registered tsx already
 * and the plain `import()` beside each call is the one that runs.
 */
declare global {
  /** `true` in dist/cli.js (an esbuild define), so the bundler drops the source-mode imports. */
  var DEPROVISIOND_COMPILED: boolean | undefined;
}

let registered = false;

/** Imports `src/<path>` through tsx from the compiled front. */
export async function importSource<T>(path: string): Promise<T> {
  if (!registered) {
    const { register } = await import('tsx/esm/api');
    register();
    registered = true;
  }
  return (await import(new URL(`../src/${path}`, import.meta.url).href)) as T;
}
