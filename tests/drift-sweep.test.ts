/**
 * Revoked stays revoked (issue 30), on demand: `reverify --since` queues a read-back of
 * every termination finished in a window (operator only, audited, bounded by
 * reverify.maxOnDemand) and the sweep report lists the subjects with access back, through
 * the admin API and the CLI's table, JSON and CSV, against the Okta sandbox.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.ts';
import { configSchema } from '../src/config/schema.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import type { Reverification } from '../src/domain/reverify.ts';
import type { Termination } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { pollUntil } from './helpers/poll.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';
import { inlineAttemptsIn } from './helpers/test-module.ts';

const OPERATOR = 'operator-token-drift-sweep-01';
const VIEWER = 'viewer-token-drift-sweep-0001';

describe('reverify --since and the sweep report', () => {
  let dir: string;
  let daemon: Daemon;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-sweep-'));
    const config = configSchema.parse({
      server: { port: 0 },
      store: { sqlite: { path: join(dir, 'store.db') } },
      auth: {
        admin: [
          { name: 'ops', token: OPERATOR, role: 'operator' },
          { name: 'watcher', token: VIEWER, role: 'viewer' },
        ],
      },
      // Nothing scheduled: every read-back here is one the test asked for.
      reverify: { offsets: [], pollInterval: '50ms', maxOnDemand: 3 },
      providers: { okta: { kind: 'okta', sandbox: { autoProvision: true } } },
      playbooks: {
        employee: {
          steps: [
            { id: 'suspend', provider: 'okta', action: 'disable_account' },
            { id: 'groups', provider: 'okta', action: 'remove_groups', after: ['suspend'] },
          ],
        },
      },
      defaultPlaybook: 'employee',
    });
    daemon = await startDaemon(inlineAttemptsIn(config), { configFile: 'sweep.yaml', logger: silentLogger() });
  });
  afterAll(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const api = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${daemon.url}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const cli = async (argv: string[]) => {
    let out = '';
    let err = '';
    const code = await runCli(argv, {
      env: { DEPROVISIOND_URL: daemon.url, DEPROVISIOND_TOKEN: OPERATOR },
      out: { write: (s: string) => (out += s) },
      err: { write: (s: string) => (err += s) },
    });
    return { code, out, err };
  };
  const terminate = async (login: string, extra: Record<string, string> = {}): Promise<Termination> => {
    const { termination } = await daemon.terminations.submit({
      source: 'admin',
      subject: { userName: login, emails: [login], displayName: 'Private Name', ...extra },
      actor: 'admin:ops',
    });
    await pollUntil(
      async () => (await daemon.store.getTermination(termination.id))?.state === 'completed',
      () => `${login} did not complete`,
      15_000,
    );
    return termination;
  };
  const allDone = async (ids: string[], count: number) => {
    let rows: Reverification[] = [];
    await pollUntil(
      async () => {
        rows = (await Promise.all(ids.map((id) => daemon.store.listReverifications(id)))).flat();
        return rows.length === count && rows.every((r) => r.state === 'done');
      },
      () => `re-verifications: ${JSON.stringify(rows.map((r) => [r.action, r.state, r.outcome]))}`,
      15_000,
    );
    return rows;
  };

  it('reads back every termination in the window, lists the one with drift, and refuses a window over the maximum', async () => {
    // A subject whose identifier a spreadsheet would take for a formula, with a comma and a quote.
    const hostile = '=cmd,"x"@example.com';
    const terminations = [await terminate('sweep-1@example.com'), await terminate('sweep-2@example.com'), await terminate(hostile)];
    const groups = (await daemon.store.listTasks(terminations[0]!.id)).find((t) => t.stepId === 'groups')!;
    await sandboxControl(daemon.sandboxes.get('okta')!.url, `/users/${(groups.account as { id: string }).id}/groups`, {
      name: 'Engineering',
      type: 'OKTA_GROUP',
    });

    expect((await api('POST', '/reverify', VIEWER, { since: '1h' })).status, 'a viewer may not queue read-backs').toBe(403);
    expect((await api('POST', '/reverify', OPERATOR, { since: 'soon' })).status).toBe(400);
    expect((await api('POST', '/reverify', OPERATOR, {})).status).toBe(400);

    const queued = await cli(['reverify', '--since', '1h']);
    expect(queued, queued.err).toMatchObject({ code: 0 });
    expect(queued.out).toMatch(/^queued 6 re-verification\(s\) of 3 termination\(s\) finished since /);
    const rows = await allDone(
      terminations.map((t) => t.id),
      6,
    );
    expect(rows.filter((r) => r.outcome === 'drift').map((r) => [r.terminationId, r.action])).toEqual([
      [terminations[0]!.id, 'remove_groups'],
    ]);
    const audit = (await daemon.store.listAudit(0, 1000)).filter((e) => e.action === 'termination.reverify_requested');
    expect(audit.map((e) => [e.terminationId, e.actor]).sort()).toEqual(terminations.map((t) => [t.id, 'admin:ops']).sort());

    const sweep = await api('GET', '/sweep?since=1h', VIEWER);
    expect(sweep.status).toBe(200);
    expect(sweep.body.items).toEqual([
      expect.objectContaining({
        terminationId: terminations[0]!.id,
        subject: 'sweep-1@example.com',
        status: 'drift',
        drift: ['okta/remove_groups'],
        pending: [],
      }),
    ]);
    expect(JSON.stringify(sweep.body), 'no more personal data than one identifier').not.toContain('Private Name');

    const table = await cli(['sweep', '--since', '1h']);
    expect(table.code).toBe(0);
    expect(table.out.split('\n')[0]).toMatch(/^TERMINATION\s+SUBJECT\s+STATUS\s+DRIFT\s+PENDING\s+LAST CHECKED\s+REQUESTED$/);
    expect(table.out).toContain('okta/remove_groups');
    const json = await cli(['sweep', '--since', '1h', '--json']);
    expect(JSON.parse(json.out)).toMatchObject({ items: [{ terminationId: terminations[0]!.id }] });

    // Drift on the hostile subject too: its CSV field must survive quoting and not run as a formula.
    const hostileGroups = (await daemon.store.listTasks(terminations[2]!.id)).find((t) => t.stepId === 'groups')!;
    await sandboxControl(daemon.sandboxes.get('okta')!.url, `/users/${(hostileGroups.account as { id: string }).id}/groups`, {
      name: 'Finance',
      type: 'OKTA_GROUP',
    });
    expect((await api('POST', `/terminations/${terminations[2]!.id}/reverify`, OPERATOR, {})).status).toBe(202);
    await allDone([terminations[2]!.id], 4);
    const csv = await cli(['sweep', '--since', '1h', '--csv']);
    expect(csv.code).toBe(0);
    const records: string[][] = parse(csv.out);
    expect(records[0]).toEqual(['termination', 'subject', 'status', 'drift', 'pending', 'last_checked', 'requested']);
    expect(records.slice(1).map((r) => [r[0], r[1], r[2], r[3]])).toEqual([
      [terminations[0]!.id, 'sweep-1@example.com', 'drift', 'okta/remove_groups'],
      [terminations[2]!.id, `'${hostile}`, 'drift', 'okta/remove_groups'],
    ]);

    // A fourth finished termination makes the window wider than reverify.maxOnDemand (3): refused, nothing queued.
    const fourth = await terminate('sweep-4@example.com');
    const refused = await api('POST', '/reverify', OPERATOR, { since: '1h' });
    expect(refused.status).toBe(409);
    expect(JSON.stringify(refused.body)).toContain('more than 3 terminations');
    expect(await daemon.store.listReverifications(fourth.id)).toEqual([]);
    const cliRefused = await cli(['reverify', '--since', '1h']);
    expect(cliRefused.code).not.toBe(0);
    expect(cliRefused.err).toContain('choose a shorter window');
  });
});
