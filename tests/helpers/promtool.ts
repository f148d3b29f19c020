/**
 * promtool for the Prometheus tests. Missing promtool skips those tests with a printed
 * reason on a workstation, and fails them in CI (CI is set), where
 * scripts/ensure-promtool.sh installs it first.
 */
import { spawnSync } from 'node:child_process';

export interface Promtool {
  /** Whether the tests that need promtool should be skipped here. */
  skip: boolean;
  run(args: string[], cwd?: string): { status: number | null; output: string };
}

export function findPromtool(): Promtool {
  const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  const installed = found.status === 0;
  const skip = !installed && !process.env.CI;
  if (skip)
    console.log(
      'promtool is not installed: skipping the promtool checks (install it with scripts/ensure-promtool.sh; CI fails instead of skipping)',
    );
  return {
    skip,
    run(args, cwd) {
      if (!installed) throw new Error('promtool is not installed, and CI requires it: run scripts/ensure-promtool.sh before the tests');
      const run = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });
      return { status: run.status, output: `${run.stdout}${run.stderr}` };
    },
  };
}
