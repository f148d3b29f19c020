/** Medians over repeated runs of one scenario: the machine is shared and noisy, so one run proves little. */
import { median, round } from './env.ts';
import { passes, type ScenarioResult } from './result.ts';

export function aggregate(runs: ScenarioResult[]): ScenarioResult {
  const first = runs[0]!;
  if (runs.length === 1) return first;
  const figures: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(first.figures)) {
    if (typeof value === 'number') {
      const values = runs.map((r) => r.figures[key]).filter((v): v is number => typeof v === 'number');
      figures[key] = round(median(values), 3);
      figures[`${key}Runs`] = values;
    } else {
      figures[key] = value;
    }
  }
  const targets = first.targets.map((t, i) => {
    const values = runs.map((r) => r.targets[i]?.value).filter((v): v is number => typeof v === 'number');
    const value = round(median(values), 3);
    return { ...t, value, met: passes(t.op, value, t.limit) };
  });
  return {
    ...first,
    title: `${first.title} (median of ${runs.length} runs)`,
    durationS: runs.reduce((sum, r) => sum + r.durationS, 0),
    figures,
    targets,
    notes: [...first.notes, `medians over ${runs.length} runs; per-run values under <figure>Runs`],
  };
}
