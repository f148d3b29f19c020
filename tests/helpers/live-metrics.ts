/**
 * The metrics the real daemon exports: a daemon on SQLite in a temp dir with the Okta
 * sandbox runs one termination to completion (so histograms have samples), then
 * /metrics is scraped with the admin token and parsed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.ts';
import { startDaemon } from '../../src/daemon.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { oktaSandboxConfigYaml } from './okta-config.ts';
import { pollUntil } from './poll.ts';

const TOKEN = 'live-metrics-token-0123456789';

export interface MetricFamily {
  type: string;
  /** Label names seen on its samples, and those it declares (a labelled counter never incremented has no sample). */
  labels: Set<string>;
}

export interface ExportedMetrics {
  families: Map<string, MetricFamily>;
  /** Series names a query may select, each mapped to its family (`x_bucket` → `x`). */
  series: Map<string, string>;
}

export async function scrapeLiveMetrics(): Promise<ExportedMetrics> {
  const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-metrics-'));
  const config = parseConfig(oktaSandboxConfigYaml(dir, { name: 'prometheus', token: TOKEN, role: 'viewer' }), 'live-metrics.yaml', {});
  const daemon = await startDaemon(config, { configFile: 'live-metrics.yaml', logger: silentLogger() });
  try {
    const { termination } = await daemon.terminations.submit({
      source: 'admin',
      subject: { userName: 'ada@example.com', emails: [] },
      actor: 'test',
    });
    await pollUntil(
      async () => (await daemon.store.getTermination(termination.id))?.state === 'completed',
      () => 'the termination did not complete',
      15_000,
    );
    const res = await fetch(`${daemon.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    const families = parseExposition(await res.text());
    for (const [name, family] of families) {
      const declared = (daemon.metrics.getSingleMetric(name) as { labelNames?: string[] } | undefined)?.labelNames ?? [];
      for (const label of declared) family.labels.add(label);
    }
    return { families, series: seriesNames(families) };
  } finally {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Families by name from the text exposition format, with the label names of their samples. */
export function parseExposition(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) families.set(type[1]!, { type: type[2]!, labels: new Set() });
  }
  const series = seriesNames(families);
  for (const line of text.split('\n')) {
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s/.exec(line);
    if (!sample) continue;
    const family = families.get(series.get(sample[1]!) ?? '');
    for (const m of (sample[2] ?? '').matchAll(/([a-zA-Z_]\w*)="/g)) if (m[1] !== 'le' && m[1] !== 'quantile') family?.labels.add(m[1]!);
  }
  return families;
}

function seriesNames(families: Map<string, MetricFamily>): Map<string, string> {
  const series = new Map<string, string>();
  for (const [name, { type }] of families) {
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) series.set(`${name}${suffix}`, name);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) series.set(`${name}${suffix}`, name);
    else series.set(name, name);
  }
  return series;
}
