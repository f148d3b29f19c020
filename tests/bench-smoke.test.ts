/**
 * The benchmark harness runs end to end at tiny sizes and produces sane, non-empty results.
 * No timing is asserted: the figures depend on the machine (docs/benchmarks.md has them).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

function result(scenario: string): any {
  const file = readdirSync(dir).find((f) => f.startsWith(`${scenario}-`) && f.endsWith('.json'));
  expect(file, `${scenario} results file`).toBeDefined();
  return JSON.parse(readFileSync(join(dir, file!), 'utf8'));
}

describe('npm run bench (smoke, tiny sizes)', () => {
  it('runs ttr, mass and intake and writes their results', { timeout: 110_000 }, async () => {
    const { code, output } = await runBench([
      '--scenario',
      'ttr,mass,intake',
      '--terminations',
      '3',
      '--duration',
      '2',
      '--warmup',
      '1',
      '--users',
      '3000',
      '--results-dir',
      dir,
      '--no-docs',
    ]);
    expect(code, output).toBe(0);
    expect(output).toMatch(/\[(MET|MISSED)\] p50 time to revoke/);

    const ttr = result('ttr');
    expect(ttr.machine.cores).toBeGreaterThan(0);
    expect(ttr.summary.figures.terminations).toBe(3);
    expect(ttr.summary.figures.ttrP50Ms).toBeGreaterThan(0);
    expect(ttr.summary.figures.lowerBoundMs).toBeGreaterThan(0);
    expect(ttr.summary.figures.longestChainRequests).toBeGreaterThan(1);
    // Every adapter with a critical action takes part, each seen in its sandbox's request log.
    expect(Object.keys(ttr.summary.figures.sequentialRequestsByProvider).sort()).toEqual([
      'brivo',
      'caep',
      'google',
      'microsoft',
      'okta',
      'scim',
    ]);
    for (const chain of Object.values(ttr.summary.figures.sequentialRequestsByProvider)) expect(chain).toBeGreaterThanOrEqual(1);
    expect(ttr.summary.targets.map((t: any) => typeof t.met)).toEqual(['boolean', 'boolean']);

    const mass = result('mass');
    expect(mass.summary.figures.accepted).toBe(3);
    expect(mass.summary.figures.lost).toBe(0);
    expect(mass.summary.figures.duplicateWrites).toBe(0);
    expect(mass.summary.figures.providerRequests).toBeGreaterThan(0);
    expect(mass.summary.figures.lowerBoundS).toBeGreaterThan(0);
    expect(mass.summary.figures.peakRssMb).toBeGreaterThan(10);

    const intake = result('intake');
    expect(intake.summary.figures.daemonRequestsPerSecond).toBeGreaterThan(0);
    expect(intake.summary.figures.bareRequestsPerSecond).toBeGreaterThan(0);
    // The warm-up's answers are not in the rates, but each of them is a termination too.
    expect(intake.summary.figures.daemonWarmupAnswers2xx).toBeGreaterThan(0);
    expect(intake.summary.figures.daemonWarmupFailed).toBe(0);
    // Requests still in flight when the load stopped may commit without their answer being counted.
    const answered = intake.summary.figures.daemonAnswers2xx + intake.summary.figures.daemonWarmupAnswers2xx;
    expect(intake.summary.figures.terminationsWritten).toBeGreaterThanOrEqual(answered);
  });

  it('runs reverify: both sides, the loaded one with its re-verifications due and the other with none', { timeout: 110_000 }, async () => {
    const { code, output } = await runBench([
      '--scenario',
      'reverify',
      '--terminations',
      '2',
      '--reverifications-due',
      '18',
      '--pairs',
      '1',
      '--results-dir',
      dir,
      '--no-docs',
    ]);
    expect(code, output).toBe(0);
    const { figures, targets } = result('reverify').summary;
    expect(figures.rounds.map((r: any) => r.side)).toEqual(['none due', 'due']);
    const [quiet, loaded] = figures.rounds;
    // Two terminations of nine verified tasks each: every one of their read-backs due at once, and none on the quiet side.
    expect(loaded.dueAtStart).toBe(18);
    expect(quiet.dueAtStart).toBe(0);
    expect(quiet.reverified).toBe(0);
    expect(figures.reverificationsDueAtEnd).toBeLessThanOrEqual(18);
    expect(figures.ttrP50MsNoneDue).toBeGreaterThan(0);
    expect(figures.ttrP50MsDue).toBeGreaterThan(0);
    expect(figures.ratioP50).toBeGreaterThan(0);
    expect(targets.map((t: any) => typeof t.met)).toEqual(['boolean', 'boolean', 'boolean']);
  });
});
