/**
 * The daemon's scavenges run on the thread that allocates (src/runtime/gc.ts). Checked in
 * a child process against the kernel's per-thread CPU accounting: the same allocation
 * workload, young garbage only, with and without the daemon's setting.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { preferSerialScavenges } from '../src/runtime/gc.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Allocates objects that die young (a ring of 20,000 live ones, replaced as it goes: each
 * scavenge copies survivors, little reaches the old generation) and reports the CPU ticks
 * of the allocating thread and of all the others, counted over the workload only.
 */
const WORKLOAD = `
import { readdirSync } from 'node:fs';
import { procStatFields } from './tests/helpers/proc-stat.ts';
import { preferSerialScavenges } from './src/runtime/gc.ts';
if (process.argv.includes('serial')) preferSerialScavenges();
const ticks = () => new Map(readdirSync('/proc/self/task').map((tid) => {
  const f = procStatFields('/proc/self/task/' + tid + '/stat');
  return [tid, Number(f[11]) + Number(f[12])];
}));
const before = ticks();
const ring = new Array(20000);
for (let n = 0; n < 12000000; n++) ring[n % ring.length] = { n, pair: [n, n] };
let main = 0, others = 0;
for (const [tid, t] of ticks()) {
  const spent = t - (before.get(tid) ?? t);
  if (tid === String(process.pid)) main += spent; else others += spent;
}
console.log(JSON.stringify({ main, others }));
`;

async function helperTicks(mode: 'serial' | 'default'): Promise<{ main: number; others: number }> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--max-semi-space-size=4', '--import', 'tsx', '--input-type=module', '-e', WORKLOAD, '--', mode],
    { cwd: ROOT, timeout: 60_000 },
  );
  return JSON.parse(stdout.trim()) as { main: number; others: number };
}

describe('young-generation garbage collection in the daemon', () => {
  it.runIf(process.platform === 'linux')(
    'keeps scavenges on the allocating thread, where by default V8 spreads them over its helper threads',
    async () => {
      const parallel = await helperTicks('default');
      const serial = await helperTicks('serial');
      // By default the helpers do a real share of the work; with the setting next to none.
      expect(parallel.others).toBeGreaterThanOrEqual(10);
      expect(serial.others).toBeLessThan(parallel.others / 4);
      expect(serial.main).toBeGreaterThan(0);
    },
    120_000,
  );

  it("leaves a scavenge flag given on node's command line alone", () => {
    expect(preferSerialScavenges(['--parallel-scavenge'])).toBe('as given on the node command line');
    expect(preferSerialScavenges(['--no-parallel-scavenge'])).toBe('as given on the node command line');
  });
});
