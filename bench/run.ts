/**
 * deprovisiond benchmarks: time to revoke, mass termination, intake; replicas on request.
 *
 *   npm run bench                                   # ttr, mass and intake, full size
 *   npm run bench -- --scenario ttr,mass --quick    # some scenarios, smaller sizes
 *   npm run bench -- --scenario intake --repeat 3   # repeat and report medians
 *   npm run bench -- --scenario replicas            # 1-3 replicas on PostgreSQL (BENCH_DATABASE_URL or TEST_DATABASE_URL)
 *   npm run bench -- --scenario reverify            # time to revoke with 2,000 re-verifications due, against none due
 *   npm run bench -- --scenario doors               # time to revoke with the issue-32 door steps beside the cut, against the cut alone
 *
 * Options: --scenario ttr,mass,intake,replicas,reverify,doors   --quick   --repeat N (default 1)
 *          --terminations N (ttr, mass; reverify, doors: per side and round)   --duration S (intake; replicas: each measured window)
 *          --reverifications-due N (reverify: due on the loaded side), --pairs N (reverify, doors: alternated rounds)
 *          --warmup S, --connections N, --users N (intake)
 *          --kinds okta,google,... (ttr, reverify, doors: the sandboxes whose critical steps the playbook holds)
 *          --doors (ttr: the issue-32 door steps beside the cut in the playbook, as config/sandbox.yaml's employee playbook)
 *          --results-dir DIR (default bench/results)   --no-docs (do not update docs/benchmarks.md)
 *
 * Each scenario prints its figures, its targets and whether they are met, writes
 * DIR/<scenario>-<date>.json, and (unless --no-docs) rewrites its section of
 * docs/benchmarks.md with the figures, the command and the machine.
 * Exit code: 0 when every scenario ran (targets missed or not), 1 when one crashed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { printResult, type ScenarioResult } from './lib/result.ts';
import { updateBenchmarksDoc } from './lib/docs.ts';
import { aggregate } from './lib/aggregate.ts';
import { TTR_DEFAULTS, runTtr } from './scenarios/ttr.ts';
import { MASS_DEFAULTS, runMass } from './scenarios/mass.ts';
import { INTAKE_DEFAULTS, runIntake } from './scenarios/intake.ts';
import { REPLICAS_DEFAULTS, runReplicas } from './scenarios/replicas.ts';
import { REVERIFY_DEFAULTS, runReverify } from './scenarios/reverify.ts';
import { DOORS_DEFAULTS, runDoors } from './scenarios/doors.ts';
import { ALL_SANDBOX_KINDS, type SandboxKind } from '../scripts/sandboxes.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCENARIOS = ['ttr', 'mass', 'intake', 'replicas', 'reverify', 'doors'] as const;
type Scenario = (typeof SCENARIOS)[number];
/**
 * What runs without --scenario: replicas needs a PostgreSQL server, and reverify and doors
 * compare alternated rounds of their own (minutes each), so each runs only when named.
 */
const DEFAULT_SCENARIOS: readonly Scenario[] = ['ttr', 'mass', 'intake'];

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  platform: string;
}

export function machine(): Machine {
  const list = cpus();
  return {
    cores: list.length,
    cpuModel: list[0]?.model ?? 'unknown',
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string', default: DEFAULT_SCENARIOS.join(',') },
      quick: { type: 'boolean', default: false },
      repeat: { type: 'string', default: '1' },
      terminations: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      users: { type: 'string' },
      kinds: { type: 'string' },
      'reverifications-due': { type: 'string' },
      pairs: { type: 'string' },
      doors: { type: 'boolean', default: false },
      'results-dir': { type: 'string', default: join(ROOT, 'bench', 'results') },
      'no-docs': { type: 'boolean', default: false },
    },
  });
  const scenarios = values.scenario
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = scenarios.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
  if (unknown.length > 0 || scenarios.length === 0) {
    process.stderr.write(`--scenario: expected some of ${SCENARIOS.join(', ')}, got ${values.scenario}\n`);
    return 2;
  }
  // Sizes are counts and seconds: warm-up may be 0, the rest must be positive.
  const sizes = { terminations: 1, duration: 1, warmup: 0, connections: 1, users: 1, 'reverifications-due': 1, pairs: 1 } as const;
  for (const [name, min] of Object.entries(sizes)) {
    const given = values[name as keyof typeof sizes];
    if (given !== undefined && !(Number.isInteger(Number(given)) && Number(given) >= min)) {
      process.stderr.write(`--${name}: expected a whole number >= ${min}, got ${given}\n`);
      return 2;
    }
  }
  const kinds = values.kinds?.split(',').map((k) => k.trim());
  const unknownKinds = kinds?.filter((k) => !(ALL_SANDBOX_KINDS as readonly string[]).includes(k)) ?? [];
  if (kinds && (unknownKinds.length > 0 || kinds.length === 0)) {
    process.stderr.write(`--kinds: expected some of ${ALL_SANDBOX_KINDS.join(', ')}, got ${values.kinds}\n`);
    return 2;
  }
  const repeat = Math.max(1, Math.min(10, Number(values.repeat) || 1));
  const quick = values.quick;
  const terminations = values.terminations ? Number(values.terminations) : undefined;
  const command = argv.length > 0 ? `npm run bench -- ${argv.join(' ')}` : 'npm run bench';
  const host = machine();
  process.stdout.write(
    `deprovisiond bench: ${scenarios.join(', ')}${quick ? ' (quick)' : ''}, ${repeat} run(s) each; ${host.cores} cores, ${host.memoryGb} GB, node ${host.node}\n`,
  );

  let crashed = false;
  for (const scenario of scenarios as Scenario[]) {
    const runs: ScenarioResult[] = [];
    for (let i = 0; i < repeat; i += 1) {
      try {
        const result = await runScenario(scenario, {
          quick,
          terminations,
          duration: values.duration,
          warmup: values.warmup,
          connections: values.connections,
          users: values.users,
          kinds: kinds as SandboxKind[] | undefined,
          reverificationsDue: values['reverifications-due'],
          pairs: values.pairs,
          doors: values.doors,
        });
        printResult(result);
        runs.push(result);
      } catch (error) {
        crashed = true;
        process.stderr.write(
          `scenario ${scenario} run ${i + 1} crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
        );
      }
    }
    if (runs.length === 0) continue;
    const summary = aggregate(runs);
    if (runs.length > 1) {
      process.stdout.write(`\n-- ${scenario}: medians over ${runs.length} runs --\n`);
      printResult(summary);
    }
    const date = new Date()
      .toISOString()
      .replace(/[:]/g, '-')
      .replace(/\.\d+Z$/, 'Z');
    const dir = values['results-dir'];
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${scenario}-${date}.json`);
    writeFileSync(file, `${JSON.stringify({ command, machine: host, quick, summary, runs }, null, 2)}\n`);
    process.stdout.write(`  results: ${file}\n`);
    if (!values['no-docs'])
      updateBenchmarksDoc(join(ROOT, 'docs', 'benchmarks.md'), { scenario, command, machine: host, quick, summary, runs: runs.length });
  }
  return crashed ? 1 : 0;
}

function runScenario(
  scenario: Scenario,
  o: {
    quick: boolean;
    terminations: number | undefined;
    duration: string | undefined;
    warmup: string | undefined;
    connections: string | undefined;
    users: string | undefined;
    kinds: SandboxKind[] | undefined;
    reverificationsDue: string | undefined;
    pairs: string | undefined;
    doors: boolean;
  },
): Promise<ScenarioResult> {
  switch (scenario) {
    case 'ttr':
      return runTtr({
        ...TTR_DEFAULTS,
        ...(o.quick ? { terminations: 30 } : {}),
        ...(o.terminations ? { terminations: o.terminations, warmup: Math.min(TTR_DEFAULTS.warmup, Math.ceil(o.terminations / 3)) } : {}),
        ...(o.kinds ? { kinds: o.kinds } : {}),
        doors: o.doors,
      });
    case 'mass':
      return runMass({
        ...MASS_DEFAULTS,
        ...(o.quick ? { terminations: 500 } : {}),
        ...(o.terminations ? { terminations: o.terminations } : {}),
      });
    case 'intake':
      return runIntake({
        ...INTAKE_DEFAULTS,
        ...(o.quick ? { durationS: 5, warmupS: 3 } : {}),
        ...(o.duration ? { durationS: Number(o.duration) } : {}),
        ...(o.warmup !== undefined ? { warmupS: Number(o.warmup) } : {}),
        ...(o.connections ? { connections: Number(o.connections) } : {}),
        ...(o.users ? { users: Number(o.users) } : {}),
      });
    case 'replicas':
      return runReplicas({
        ...REPLICAS_DEFAULTS,
        ...(o.quick ? { windowS: 4 } : {}),
        ...(o.duration ? { windowS: Number(o.duration) } : {}),
      });
    case 'reverify':
      return runReverify({
        ...REVERIFY_DEFAULTS,
        ...(o.quick ? { terminations: 20, reverificationsDue: 500, pairs: 1 } : {}),
        ...(o.terminations ? { terminations: o.terminations } : {}),
        ...(o.reverificationsDue ? { reverificationsDue: Number(o.reverificationsDue) } : {}),
        ...(o.pairs ? { pairs: Number(o.pairs) } : {}),
        ...(o.kinds ? { kinds: o.kinds } : {}),
      });
    case 'doors':
      return runDoors({
        ...DOORS_DEFAULTS,
        ...(o.quick ? { terminations: 20, pairs: 1 } : {}),
        ...(o.terminations ? { terminations: o.terminations, warmup: Math.min(DOORS_DEFAULTS.warmup, Math.ceil(o.terminations / 3)) } : {}),
        ...(o.pairs ? { pairs: Number(o.pairs) } : {}),
        ...(o.kinds ? { kinds: o.kinds } : {}),
      });
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
