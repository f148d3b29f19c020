import { defineConfig } from 'vitest/config';

/**
 * Tests that start processes (daemons, the CLI, crash and chaos runs, replicas on
 * PostgreSQL) or external tools (promtool): most of the suite's time, and the part a
 * loaded machine slows down. `npm test` runs both projects; `npm run test:unit` only `unit`.
 */
const PROCESS_LEVEL = [
  'tests/audit.test.ts',
  'tests/bench-smoke.test.ts',
  'tests/cli.test.ts',
  'tests/cli-usage.test.ts',
  'tests/console-browser.test.ts',
  'tests/daemon.test.ts',
  'tests/demo.test.ts',
  'tests/dockerfile.test.ts',
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
  'tests/security-secrets.test.ts',
];

const common = {
  // Sandboxes listen on random loopback ports; files run in parallel on both cores.
  pool: 'forks' as const,
  testTimeout: 30_000,
  hookTimeout: 30_000,
};

export default defineConfig({
  test: {
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
    projects: [
      { test: { ...common, name: 'unit', include: ['tests/**/*.test.ts'], exclude: PROCESS_LEVEL } },
      { test: { ...common, name: 'process', include: PROCESS_LEVEL } },
    ],
  },
});
