/**
 * What a PromQL expression reads: metric names, the label names its selectors match on,
 * and the label names its aggregations group by. Grafana variables are replaced first.
 * A reader for the queries in deploy/, checked by tests; not a PromQL parser (promtool
 * checks the syntax).
 */

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
]);

/** Grafana's interval variables become a duration, any other `$var` / `${var}` a regex matching anything. */
export function substituteGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}/g, '5m')
    .replace(/\$\{\w+(?::\w+)?\}|\$\w+|\[\[\w+\]\]/g, '.*');
}

export interface ExpressionReads {
  metrics: string[];
  /** Label names in each metric's selector, e.g. `x{provider="a"}` gives x → [provider]. */
  selectorLabels: Array<{ metric: string; labels: string[] }>;
  /** Label names in by / on / group_left / group_right clauses: the labels kept or matched on. */
  groupingLabels: string[];
  /** Label names in without / ignoring clauses: dropped, so naming one a series lacks is harmless. */
  droppedLabels: string[];
}

export function expressionReads(rawExpr: string): ExpressionReads {
  const expr = substituteGrafanaVariables(rawExpr);
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');

  const selectorLabels: ExpressionReads['selectorLabels'] = [];
  for (const m of withoutStrings.matchAll(/([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}/g)) {
    const labels = [...m[2]!.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!);
    selectorLabels.push({ metric: m[1]!, labels });
  }
  const groupingLabels: string[] = [];
  const droppedLabels: string[] = [];
  for (const m of withoutStrings.matchAll(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    const labels = m[2]!
      .split(',')
      .map((l) => l.trim())
      .filter(Boolean);
    (m[1] === 'without' || m[1] === 'ignoring' ? droppedLabels : groupingLabels).push(...labels);
  }

  const bare = withoutStrings
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const metrics = new Set<string>();
  for (const m of bare.matchAll(/(?<![\w.:$])([a-zA-Z_:][\w:]*)(?![\w:])(\s*\()?/g)) {
    if (m[2] || KEYWORDS.has(m[1]!.toLowerCase())) continue;
    metrics.add(m[1]!);
  }
  return { metrics: [...metrics], selectorLabels, groupingLabels, droppedLabels };
}
