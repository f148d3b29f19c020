/**
 * deploy/grafana/deprovisiond.json and deploy/prometheus/alerts.yml read only what the
 * daemon exports: a real daemon (SQLite, Okta sandbox) runs one termination, its /metrics
 * is scraped, and every metric and label in every panel query, variable query and alert
 * expression is checked against it. The dashboard's structure (datasource variable,
 * layout, the panels operations need) and its PromQL syntax (promtool) are checked too.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { scrapeLiveMetrics, type ExportedMetrics } from './helpers/live-metrics.ts';
import { expressionReads, substituteGrafanaVariables } from './helpers/promql.ts';
import { findPromtool } from './helpers/promtool.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface Target {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  datasource?: { uid?: string };
}

const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/deprovisiond.json'), 'utf8')) as {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
};
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const variables = dashboard.templating.list;
const alertRules = (
  parse(readFileSync(join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8')) as {
    groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
  }
).groups.flatMap((g) => g.rules);

/** Every PromQL expression in the dashboard and the alerts, named for the failure message. */
function allExpressions(): Array<{ where: string; expr: string }> {
  const found = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr })));
  for (const v of variables.filter((v) => v.type === 'query')) {
    const query = typeof v.query === 'string' ? v.query : v.query.query;
    const inner = /^label_values\((.*),\s*(\w+)\)$/.exec(query);
    if (!inner) throw new Error(`variable ${v.name}: expected label_values(selector, label), got ${query}`);
    // label_values(selector, label) reads `label` from the selector's series: check it as a grouping.
    found.push({ where: `variable $${v.name}`, expr: `count by (${inner[2]}) (${inner[1]})` });
  }
  for (const rule of alertRules) found.push({ where: `alert ${rule.alert}`, expr: rule.expr });
  return found;
}

/** Labels scraped series carry from the target: Prometheus' own, and the pod's from docs/operations.md's relabelling. */
const TARGET_LABELS = ['job', 'instance', 'pod', 'namespace'];
/** Prometheus' own per-target series and their labels. */
const PROMETHEUS_SERIES: Record<string, string[]> = { up: TARGET_LABELS };

/** What an expression reads that the daemon does not export; empty when everything is real. */
function problemsIn(expr: string, exported: ExportedMetrics): string[] {
  const problems: string[] = [];
  const reads = expressionReads(expr);
  const labelsOf = (metric: string): string[] | undefined => {
    if (PROMETHEUS_SERIES[metric]) return PROMETHEUS_SERIES[metric];
    const family = exported.series.get(metric);
    if (!family) return undefined;
    return [...exported.families.get(family)!.labels, ...TARGET_LABELS, ...(metric.endsWith('_bucket') ? ['le'] : [])];
  };
  if (reads.metrics.length === 0) problems.push('reads no metric');
  for (const metric of reads.metrics) if (!labelsOf(metric)) problems.push(`${metric} is not exported by the daemon`);
  for (const { metric, labels } of reads.selectorLabels) {
    const known = labelsOf(metric);
    for (const label of labels) if (known && !known.includes(label)) problems.push(`${metric} has no label ${label}`);
  }
  const readable = new Set(reads.metrics.flatMap((m) => labelsOf(m) ?? []));
  for (const label of reads.groupingLabels)
    if (!readable.has(label)) problems.push(`groups by ${label}, which none of ${reads.metrics.join(', ')} has`);
  if (expr.includes('histogram_quantile')) {
    if (!reads.metrics.every((m) => exported.families.get(exported.series.get(m) ?? '')?.type === 'histogram' && m.endsWith('_bucket'))) {
      problems.push('histogram_quantile over something other than a histogram _bucket series');
    }
    const keepsLe = reads.droppedLabels.length > 0 ? !reads.droppedLabels.includes('le') : reads.groupingLabels.includes('le');
    if (!keepsLe) problems.push('histogram_quantile without keeping le');
  }
  return problems;
}

describe('metrics used by the dashboard and the alerts, against a live daemon', () => {
  let exported: ExportedMetrics;
  beforeAll(async () => {
    exported = await scrapeLiveMetrics();
  });

  it('the scrape has the families the checks rely on, with samples in the histograms', () => {
    expect(exported.families.get('deprovisiond_time_to_revoke_seconds')?.type).toBe('histogram');
    expect(exported.series.get('deprovisiond_time_to_revoke_seconds_bucket')).toBe('deprovisiond_time_to_revoke_seconds');
    expect(exported.families.get('deprovisiond_tasks_finished_total')?.labels).toEqual(new Set(['provider', 'action', 'outcome']));
    // A labelled counter never incremented has no sample; its declared labels still count.
    expect(exported.families.get('deprovisiond_verification_failures_total')?.labels).toEqual(new Set(['provider', 'action']));
  });

  it('every metric, selector label and grouping label in every query is exported', () => {
    const problems = allExpressions().flatMap(({ where, expr }) => problemsIn(expr, exported).map((p) => `${where}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('the check itself catches a made-up metric, label, grouping and a histogram misuse', () => {
    expect(problemsIn('rate(deprovisiond_revocations_total[5m])', exported)).toEqual([
      'deprovisiond_revocations_total is not exported by the daemon',
    ]);
    expect(problemsIn('deprovisiond_pending_tasks{provider="okta"}', exported)).toEqual([
      'deprovisiond_pending_tasks has no label provider',
    ]);
    expect(problemsIn('sum by (tenant) (deprovisiond_queue_depth)', exported)).toEqual([
      'groups by tenant, which none of deprovisiond_queue_depth has',
    ]);
    expect(problemsIn('deprovisiond_time_to_revoke_seconds', exported)).toEqual([
      'deprovisiond_time_to_revoke_seconds is not exported by the daemon',
    ]);
    expect(problemsIn('histogram_quantile(0.9, sum(rate(deprovisiond_time_to_revoke_seconds_bucket[5m])))', exported)).toEqual([
      'histogram_quantile without keeping le',
    ]);
    expect(
      problemsIn('histogram_quantile(0.9, sum without (le) (rate(deprovisiond_time_to_revoke_seconds_bucket[5m])))', exported),
    ).toEqual(['histogram_quantile without keeping le']);
    expect(
      problemsIn('histogram_quantile(0.9, sum without (instance) (rate(deprovisiond_time_to_revoke_seconds_bucket[5m])))', exported),
    ).toEqual([]);
  });
});

describe('deprovisiond.json', () => {
  it('selects its Prometheus through a datasource variable, in every panel and query', () => {
    const ds = variables.find((v) => v.type === 'datasource');
    expect(ds).toMatchObject({ name: 'datasource', query: 'prometheus' });
    for (const panel of panels) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length, `${panel.title} has no query`).toBeGreaterThan(0);
      for (const target of panel.targets!) expect(target.datasource?.uid, `${panel.title} ${target.refId}`).toBe('${datasource}');
    }
    for (const v of variables.filter((v) => v.type === 'query')) expect(v.datasource?.uid, v.name).toBe('${datasource}');
  });

  it('has unique panel ids and a layout inside 24 columns without overlaps', () => {
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    const cells = new Map<string, string>();
    for (const panel of dashboard.panels) {
      const { x, y, w, h } = panel.gridPos;
      expect(x + w, panel.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i += 1) {
        for (let j = y; j < y + h; j += 1) {
          const key = `${i},${j}`;
          expect(cells.get(key), `"${panel.title}" overlaps "${cells.get(key)}"`).toBeUndefined();
          cells.set(key, panel.title);
        }
      }
    }
  });

  it('shows what operations need: time to revoke p50 and p99, the queue, providers', () => {
    const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    const uses = (pattern: RegExp) => exprs.some((e) => pattern.test(e));
    expect(uses(/histogram_quantile\(0\.5,.*deprovisiond_time_to_revoke_seconds_bucket/)).toBe(true);
    expect(uses(/histogram_quantile\(0\.99,.*deprovisiond_time_to_revoke_seconds_bucket/)).toBe(true);
    expect(uses(/by \(state\).*deprovisiond_terminations\{/)).toBe(true);
    expect(uses(/by \(provider, outcome\).*deprovisiond_tasks_finished_total/)).toBe(true);
    for (const metric of [
      'deprovisiond_queue_depth',
      'deprovisiond_pending_tasks',
      'deprovisiond_oldest_pending_task_age_seconds',
      'deprovisiond_failed_unresolved_tasks',
      'deprovisiond_provider_rate_limited_total',
      'deprovisiond_verification_failures_total',
      'deprovisiond_drift_total',
      'deprovisiond_reverifications_total',
    ]) {
      expect(uses(new RegExp(`\\b${metric}\\b`)), metric).toBe(true);
    }
  });

  const promtool = findPromtool();
  it.skipIf(promtool.skip)('every query is valid PromQL (promtool check rules, Grafana variables substituted)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-dashboard-'));
    try {
      const rules = allExpressions().map(({ expr }, i) => ({ record: `dashboard:query_${i}`, expr: substituteGrafanaVariables(expr) }));
      writeFileSync(join(dir, 'queries.yml'), stringify({ groups: [{ name: 'dashboard', rules }] }));
      const { status, output } = promtool.run(['check', 'rules', 'queries.yml'], dir);
      expect(status, output).toBe(0);
      expect(output).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
