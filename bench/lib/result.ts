/** What every scenario returns: its figures, its targets and whether each is met. */
export interface TargetCheck {
  name: string;
  /** The measured value the target is about. */
  value: number;
  unit: string;
  /** The target in words, e.g. "<= 1.2x". */
  target: string;
  /** The comparison the value must pass, so medians over runs can be checked again. */
  op: '<' | '<=' | '>=';
  limit: number;
  met: boolean;
}

export interface ScenarioResult {
  scenario: 'ttr' | 'mass' | 'intake' | 'replicas' | 'reverify' | 'doors';
  title: string;
  startedAt: string;
  durationS: number;
  parameters: Record<string, unknown>;
  figures: Record<string, unknown>;
  targets: TargetCheck[];
  notes: string[];
}

export function check(
  name: string,
  value: number,
  unit: string,
  op: '<' | '<=' | '>=',
  limit: number,
  target = `${op} ${limit}${unit === 'x' ? 'x' : ` ${unit}`}`,
): TargetCheck {
  return { name, value, unit, target, op, limit, met: passes(op, value, limit) };
}

export function passes(op: '<' | '<=' | '>=', value: number, limit: number): boolean {
  return Number.isFinite(value) && (op === '<' ? value < limit : op === '<=' ? value <= limit : value >= limit);
}

export function printResult(result: ScenarioResult, out: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): void {
  out(`\n== ${result.title} (${result.scenario}, ${result.durationS.toFixed(1)} s) ==`);
  for (const [key, value] of Object.entries(result.figures)) {
    if (typeof value === 'object' && value !== null) out(`  ${key}: ${JSON.stringify(value)}`);
    else out(`  ${key}: ${String(value)}`);
  }
  for (const t of result.targets) {
    out(`  [${t.met ? 'MET' : 'MISSED'}] ${t.name}: ${t.value} ${t.unit} (target ${t.target})`);
  }
  for (const note of result.notes) out(`  note: ${note}`);
}
