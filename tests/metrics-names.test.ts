/** Metric names: ours start with deprovisiond_, and the process metrics are not prefixed twice. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_TOKEN, startTestDaemon, type TestDaemon } from './helpers/admin-daemon.ts';

let t: TestDaemon;
beforeAll(async () => {
  t = await startTestDaemon();
});
afterAll(async () => {
  await t?.stop();
});

describe('/metrics names', () => {
  it('names process metrics deprovisiond_process_* and Node.js runtime metrics deprovisiond_nodejs_*', async () => {
    const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    const text = await res.text();
    expect(text).toMatch(/^deprovisiond_process_cpu_seconds_total /m);
    expect(text).toMatch(/^deprovisiond_process_resident_memory_bytes /m);
    expect(text).toMatch(/^deprovisiond_nodejs_eventloop_lag_seconds /m);
    expect(text).not.toContain('process_process_');
    const names = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!);
    expect(names.filter((n) => !n.startsWith('deprovisiond_'))).toEqual([]);
  });
});
