/**
 * Rewrites one scenario's generated section of docs/benchmarks.md (between
 * `<!-- bench:<scenario>:start -->` and `<!-- bench:<scenario>:end -->`); the prose around
 * the sections is written by people and left alone.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { ScenarioResult } from './result.ts';

export interface DocEntry {
  scenario: string;
  command: string;
  machine: { cores: number; cpuModel: string; memoryGb: number; node: string; platform: string };
  quick: boolean;
  summary: ScenarioResult;
  runs: number;
}

const SKELETON = `# Benchmarks

Generated sections below are rewritten by \`npm run bench\`; see bench/run.ts.

<!-- bench:ttr:start -->
<!-- bench:ttr:end -->

<!-- bench:mass:start -->
<!-- bench:mass:end -->

<!-- bench:intake:start -->
<!-- bench:intake:end -->
`;

export function renderSection(entry: DocEntry): string {
  const { summary, machine } = entry;
  const lines: string[] = [];
  lines.push(
    `**Latest run** (${summary.startedAt.slice(0, 10)}${entry.quick ? ', quick sizes' : ''}${entry.runs > 1 ? `, median of ${entry.runs} runs` : ''}): \`${entry.command}\``,
  );
  lines.push('');
  lines.push(
    `Machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGb} GB, Node ${machine.node}, ${machine.platform}; shared with other work, so figures are noisy.`,
  );
  lines.push('');
  lines.push('| target | measured | target | met |');
  lines.push('| --- | --- | --- | --- |');
  for (const t of summary.targets) lines.push(`| ${t.name} | ${t.value} ${t.unit} | ${t.target} | ${t.met ? 'yes' : '**no**'} |`);
  lines.push('');
  lines.push('| figure | value |');
  lines.push('| --- | --- |');
  for (const [key, value] of Object.entries(summary.figures)) {
    if (key.endsWith('Runs')) continue;
    const runs = summary.figures[`${key}Runs`];
    const shown = typeof value === 'object' && value !== null ? `\`${JSON.stringify(value)}\`` : String(value);
    lines.push(`| ${key} | ${shown}${Array.isArray(runs) ? ` (runs: ${runs.join(', ')})` : ''} |`);
  }
  return lines.join('\n');
}

export function updateBenchmarksDoc(file: string, entry: DocEntry): void {
  let text = existsSync(file) ? readFileSync(file, 'utf8') : SKELETON;
  const start = `<!-- bench:${entry.scenario}:start -->`;
  const end = `<!-- bench:${entry.scenario}:end -->`;
  if (!text.includes(start) || !text.includes(end)) text = `${text.trimEnd()}\n\n${start}\n${end}\n`;
  const before = text.slice(0, text.indexOf(start) + start.length);
  const after = text.slice(text.indexOf(end));
  writeFileSync(file, `${before}\n${renderSection(entry)}\n${after}`);
}
