import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Tests that start processes (daemons, the CLI, crash and chaos runs, replicas on
 * PostgreSQL) or external tools (promtool): most of the suite's time, and the part a
 * loaded machine slows down. `npm test` runs every project; `npm run test:unit` all but
 * `process`.
 */
const PROCESS_LEVEL = [
  'tests/audit.test.ts',
  'tests/bench-smoke.test.ts',
  'tests/cli.test.ts',
  'tests/cli-usage.test.ts',
  'tests/console-browser.test.ts',
  'tests/daemon.test.ts',
  'tests/customer-offboarding-full.test.ts',
  'tests/demo.test.ts',
  'tests/dockerfile.test.ts',
  'tests/drift-estate.test.ts',
  'tests/gc.test.ts',
  'tests/hostile-readyz.test.ts',
  'tests/ldap-samba.test.ts',
  'tests/ldap-slapd.test.ts',
  'tests/grafana-dashboard.test.ts',
  'tests/multi-replica.test.ts',
  'tests/multi-replica-freeze.test.ts',
  'tests/prometheus-rules.test.ts',
  'tests/reliability-chaos.test.ts',
  'tests/reliability-crash.test.ts',
  'tests/reliability-store-outage.test.ts',
  'tests/reverify-crash.test.ts',
  'tests/security-secrets.test.ts',
];

/**
 * nock patches Node's HTTP client as it loads. Sharing a thread's modules with other files,
 * three of these files sent their requests to the real network (ENOTFOUND) in a trial run,
 * so they keep a fresh process each.
 */
const PATCHES_HTTP = ['tests/**/*-nock.test.ts'];

/**
 * Tests that measure the event loop's delay while the daemon works (bound: 50 ms). Another
 * test file running beside them on two cores shows up as delay, so they run after the
 * parallel part, one at a time. `npm run test:unit` runs them too.
 */
const TIMING = ['tests/hostile-scim-query.test.ts', 'tests/hostile-scim-scan.test.ts'];

const timeouts = {
  testTimeout: 30_000,
  hookTimeout: 30_000,
};

export default defineConfig({
  test: {
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
    poolOptions: {
      // A thread per core, at least two: vitest's default on two cores is one worker, which
      // ran the unit files one after another while they mostly wait (timers, sockets,
      // PostgreSQL). Not isolated: the files of a thread share one module graph, so the
      // provider SDKs, express and Kysely load once per thread instead of once per file (the
      // unit run took 117 s of CPU before, 64 s after). Safe because these files keep no
      // state in modules they share: each makes its own stores, daemons and clocks.
      threads: { isolate: false, maxThreads: Math.max(2, availableParallelism()) },
    },
    projects: [
      {
        test: {
          ...timeouts,
          name: 'unit',
          pool: 'threads',
          isolate: false,
          include: ['tests/**/*.test.ts'],
          exclude: [...PROCESS_LEVEL, ...PATCHES_HTTP, ...TIMING],
        },
      },
      // A fresh process per file, as before (the forks pool isolates its workers).
      { test: { ...timeouts, name: 'unit-isolated', pool: 'forks', include: PATCHES_HTTP } },
      // After the projects above (groupOrder), each file in a process of its own, one at a
      // time on two cores (the forks pool runs cores - 1): nothing else of the run beside them.
      { test: { ...timeouts, name: 'timing', pool: 'forks', include: TIMING, sequence: { groupOrder: 1 } } },
      { test: { ...timeouts, name: 'process', pool: 'forks', include: PROCESS_LEVEL, sequence: { groupOrder: 1 } } },
    ],
  },
});
