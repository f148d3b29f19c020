/**
 * deploy/prometheus/alerts.yml: promtool accepts it, its unit tests (alerts.test.yml)
 * pass, every alert has a case that fires and one that does not, and every alert links a
 * runbook entry that exists in docs/operations.md. That its metrics are real is checked
 * against a live daemon in tests/grafana-dashboard.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { headingAnchors } from './helpers/markdown.ts';
import { findPromtool } from './helpers/promtool.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIR = join(ROOT, 'deploy/prometheus');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface AlertTest {
  eval_time: string;
  alertname: string;
  exp_alerts?: unknown[];
}

const rules = (parse(readFileSync(join(DIR, 'alerts.yml'), 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);
const alerts = rules.filter((r): r is Rule & { alert: string } => typeof r.alert === 'string');
const unitTests = parse(readFileSync(join(DIR, 'alerts.test.yml'), 'utf8')) as {
  rule_files: string[];
  tests: Array<{ alert_rule_test?: AlertTest[] }>;
};
const promtool = findPromtool();

describe('alerts.yml', () => {
  it('has the alerts operations rely on', () => {
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'DeprovisiondDown',
        'DeprovisiondAbsent',
        'DeprovisiondFailedTasksUnresolved',
        'DeprovisiondRevocationSLOBreach',
        'DeprovisiondRateLimitStorm',
        'DeprovisiondVerificationFailures',
        'DeprovisiondResultsDiscarded',
        'DeprovisiondTasksCrashed',
      ]),
    );
    expect(new Set(alerts.map((a) => a.alert)).size).toBe(alerts.length);
  });

  it('gives every alert a severity, a summary, a description and a runbook entry that exists', () => {
    const anchors = headingAnchors(readFileSync(join(ROOT, 'docs/operations.md'), 'utf8'));
    for (const alert of alerts) {
      expect(['critical', 'warning'], alert.alert).toContain(alert.labels?.severity);
      expect(alert.annotations?.summary, alert.alert).toBeTruthy();
      expect(alert.annotations?.description, alert.alert).toBeTruthy();
      const url = alert.annotations?.runbook_url ?? '';
      const link = /^docs\/operations\.md#([\w-]+)$/.exec(url);
      expect(link, `${alert.alert}: runbook_url ${url}`).not.toBeNull();
      expect(anchors.has(link![1]!), `${alert.alert}: docs/operations.md has no heading #${link![1]}`).toBe(true);
    }
  });

  it('has a unit test per alert where it fires and one where it stays quiet', () => {
    expect(unitTests.rule_files).toEqual(['alerts.yml']);
    const cases = unitTests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const alert of alerts) {
      const mine = cases.filter((c) => c.alertname === alert.alert);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${alert.alert} never fires in alerts.test.yml`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${alert.alert} is never tested quiet in alerts.test.yml`,
      ).toBe(true);
    }
    for (const c of cases)
      expect(
        alerts.map((a) => a.alert),
        `alerts.test.yml tests unknown alert ${c.alertname}`,
      ).toContain(c.alertname);
  });
});

describe('prometheus.example.yml', () => {
  const example = parse(readFileSync(join(DIR, 'prometheus.example.yml'), 'utf8')) as {
    rule_files: string[];
    scrape_configs: Array<{ job_name: string }>;
  };

  it('loads alerts.yml and scrapes under the job name the alerts select', () => {
    expect(example.rule_files).toContain('alerts.yml');
    const jobs = new Set(alerts.flatMap((a) => [...a.expr.matchAll(/\bjob="([^"]+)"/g)].map((m) => m[1]!)));
    expect([...jobs]).toEqual(['deprovisiond']);
    expect(example.scrape_configs.map((c) => c.job_name)).toContain('deprovisiond');
  });

  it.skipIf(promtool.skip)('is a valid Prometheus configuration (promtool check config --syntax-only)', () => {
    const { status, output } = promtool.run(['check', 'config', '--syntax-only', 'prometheus.example.yml'], DIR);
    expect(status, output).toBe(0);
  });
});

describe.skipIf(promtool.skip)('promtool', () => {
  it('check rules accepts alerts.yml, counting every rule', () => {
    const { status, output } = promtool.run(['check', 'rules', 'alerts.yml'], DIR);
    expect(status, output).toBe(0);
    expect(output).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('check rules rejects a broken expression (the check can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-rules-'));
    try {
      writeFileSync(
        join(dir, 'broken.yml'),
        'groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: rate(deprovisiond_pending_tasks[5m]\n',
      );
      expect(promtool.run(['check', 'rules', 'broken.yml'], dir).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('test rules passes alerts.test.yml', () => {
    const { status, output } = promtool.run(['test', 'rules', 'alerts.test.yml'], DIR);
    expect(status, output).toBe(0);
    expect(output).toContain('SUCCESS');
  });
});
