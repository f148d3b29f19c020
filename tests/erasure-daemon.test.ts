/**
 * Erasure through the daemon (issue 29): the admin routes refuse viewers; an operator's
 * erasure answers a signed receipt that `verify-receipt` accepts and a tampered copy fails;
 * an erasure request is answered with its schedule; the retention job erases a client's
 * personal data on time across a daemon restart (it works from the store, not timers).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.ts';
import { configSchema } from '../src/config/schema.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import { pseudonymOf } from '../src/privacy/pseudonym.ts';
import { createLogger } from '../src/telemetry/logger.ts';
import { pollUntil, readAnswer } from './helpers/poll.ts';
import { createTestModule, inlineAttemptsIn } from './helpers/test-module.ts';

const VIEWER = `viewer-${randomBytes(12).toString('hex')}`;
const OPERATOR = `operator-${randomBytes(12).toString('hex')}`;
/** A client's personal data is kept this long after its termination finished. */
const CLIENT_PERIOD_MS = 3_000;

let dir: string;
const logs: string[] = [];

async function start(): Promise<Daemon> {
  const config = configSchema.parse({
    server: { host: '127.0.0.1', port: 0 },
    store: { sqlite: { path: join(dir, 'store.db') } },
    auth: {
      admin: [
        { name: 'watcher', token: VIEWER, role: 'viewer' },
        { name: 'ops', token: OPERATOR, role: 'operator' },
      ],
    },
    providers: { fake: { kind: 'fake' } },
    // No re-verification: a termination is finished, for erasure, once its tasks are.
    reverify: { offsets: [] },
    privacy: { retentionInterval: '100ms' },
    playbooks: {
      employee: {
        steps: [{ id: 'revoke', provider: 'fake', action: 'revoke_sessions' }],
        retention: { record: '7d', personalData: 'record' },
      },
      customer: {
        steps: [{ id: 'revoke', provider: 'fake', action: 'revoke_sessions' }],
        retention: { record: '7d', personalData: `${CLIENT_PERIOD_MS}ms` },
      },
    },
    defaultPlaybook: 'employee',
  });
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(line) } });
  return startDaemon(inlineAttemptsIn(config), { configFile: join(dir, 'test.yaml'), logger, modules: createTestModule().modules });
}

let daemon: Daemon;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deprovisiond-erasure-'));
  daemon = await start();
});
afterAll(async () => {
  await daemon?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const api = async (method: string, path: string, body?: unknown, token = OPERATOR) =>
  readAnswer(
    await fetch(`${daemon.url}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    }),
  );

async function finishedTermination(externalId: string, playbook: string): Promise<string> {
  const created = await api('POST', '/terminations', { subject: { externalId, emails: [`${externalId}@example.com`] }, playbook });
  expect(created.status).toBe(201);
  const id = created.body.terminationId as string;
  await pollUntil(
    async () => (await daemon.store.getTermination(id))?.state === 'completed',
    () => `termination ${id} did not complete`,
    10_000,
  );
  return id;
}

function cli(args: string[]) {
  const io = { out: '', err: '' };
  const code = runCli(args, {
    env: { DEPROVISIOND_URL: daemon.url, DEPROVISIOND_TOKEN: OPERATOR },
    out: { write: (x: string) => void (io.out += x) },
    err: { write: (x: string) => void (io.err += x) },
  });
  return code.then((c) => ({ code: c, ...io }));
}

describe('erasure through the daemon', () => {
  it('refuses viewers the writes, lets them read the key', async () => {
    const id = await finishedTermination('E-viewer', 'employee');
    for (const [path, body] of [
      [`/terminations/${id}/erasure`, { reason: 'x' }],
      ['/erasures', { subject: { externalId: 'E-viewer', emails: [] }, reason: 'x' }],
      ['/erasure-requests', { subject: { externalId: 'E-viewer', emails: [] }, requestedBy: 'tool', reference: 'R-1' }],
    ] as const) {
      expect((await api('POST', path, body, VIEWER)).status, path).toBe(403);
    }
    expect((await daemon.store.getTermination(id))?.subjectKey, 'nothing erased').toBe('ext:E-viewer');
    const key = await api('GET', '/erasure-key', undefined, VIEWER);
    expect(key.body).toMatchObject({ algorithm: 'Ed25519', publicKeyPem: expect.stringContaining('BEGIN PUBLIC KEY') });
  });

  it('erases with the CLI; the receipt verifies and a tampered copy does not', async () => {
    const id = await finishedTermination('E-cli', 'employee');
    const file = join(dir, 'receipt.json');
    const erased = await cli(['erase', id, '--reason', 'DSR-9', '--receipt', file]);
    expect(erased).toMatchObject({ code: 0, err: '' });
    expect(erased.out).toContain(`its subject is now ${pseudonymOf(id)}`);
    expect((await daemon.store.getTermination(id))?.subjectKey).toBe(pseudonymOf(id));

    const evidence = await api('GET', `/terminations/${id}/evidence`, undefined, VIEWER);
    expect(evidence.status).toBe(200);
    expect(evidence.text, 'the evidence renders the pseudonym').toContain(pseudonymOf(id));
    expect(evidence.body.termination.subject, 'not the person').toEqual({ userName: pseudonymOf(id), emails: [] });

    expect(await cli(['verify-receipt', file])).toMatchObject({ code: 0, out: expect.stringContaining('valid erasure receipt') });
    const keyFile = join(dir, 'key.pem');
    const printed = await cli(['erasure-key']);
    writeFileSync(keyFile, printed.out);
    expect((await cli(['verify-receipt', file, '--key', keyFile])).code).toBe(0);

    const signed = JSON.parse(readFileSync(file, 'utf8')) as { receipt: { totals: Record<string, number> } };
    signed.receipt.totals.terminations = 0;
    writeFileSync(join(dir, 'tampered.json'), JSON.stringify(signed, null, 2));
    expect(await cli(['verify-receipt', join(dir, 'tampered.json')])).toMatchObject({ code: 1, err: expect.stringContaining('NOT valid') });

    const nobody = await api('POST', '/erasures', { subject: { externalId: 'E-nobody', emails: [] }, reason: 'DSR-10' });
    expect(nobody).toMatchObject({ status: 404, body: { error: 'no termination on record for this subject' } });
    const again = await api('POST', `/terminations/${id}/erasure`, { reason: 'again' });
    expect(again.status).toBe(409);
    expect(again.body.details.erased).toEqual([{ terminationId: id, erasureId: expect.any(String) }]);
    const kept = await api('GET', `/erasures/${again.body.details.erased[0].erasureId as string}`, undefined, VIEWER);
    expect(kept.body).toEqual(JSON.parse(readFileSync(file, 'utf8')));
  });

  it('answers an erasure request with its schedule: an employee record keeps personal data until its retention ends', async () => {
    const id = await finishedTermination('E-request', 'employee');
    const finishedAt = (await daemon.store.getTermination(id))!.finishedAt!;
    const answer = await api('POST', '/erasure-requests', {
      subject: { emails: ['E-request@example.com'] },
      requestedBy: 'privacy-tool',
      reference: 'DSR-12',
    });
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({
      state: 'scheduled',
      dueAt: new Date(finishedAt.getTime() + 7 * 86_400_000).toISOString(),
      terminations: [id],
    });
    expect((await api('GET', `/erasure-requests/${answer.body.id as string}`, undefined, VIEWER)).body).toMatchObject({
      state: 'scheduled',
    });
  });

  it("erases a client's personal data once its period ends, across a restart", async () => {
    const id = await finishedTermination('C-restart', 'customer');
    const finishedAt = (await daemon.store.getTermination(id))!.finishedAt!.getTime();
    await daemon.stop();
    // Stopped before it fell due: nothing in memory can carry the erasure over the restart.
    expect(Date.now(), 'the daemon stopped before the period ended').toBeLessThan(finishedAt + CLIENT_PERIOD_MS);
    daemon = await start();
    expect((await daemon.store.getTermination(id))?.subjectKey).toBe('ext:C-restart');
    const erased = await pollUntil(
      async () => {
        const t = await daemon.store.getTermination(id);
        return t?.subjectKey === pseudonymOf(id) ? t : null;
      },
      () => 'the retention job did not erase the termination after the restart',
      15_000,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(finishedAt + CLIENT_PERIOD_MS);
    expect(erased.subjectKey).toBe(pseudonymOf(id));
    const entries = await daemon.store.listAuditOf(id);
    expect(entries.find((e) => e.action === 'privacy.erased')).toMatchObject({ actor: 'engine:retention' });
    // Counted once the job's pass has the receipt, moments after the commit the poll saw.
    await pollUntil(
      async () =>
        /^deprovisiond_retention_erasures_total\{scope="retention"\} 1$/m.test(
          await (await fetch(`${daemon.url}/metrics`, { headers: { authorization: `Bearer ${VIEWER}` } })).text(),
        ),
      () => 'deprovisiond_retention_erasures_total{scope="retention"} did not count the erasure',
      5_000,
    );
    expect(logs.join('\n')).not.toContain('C-restart@example.com');
  });
});
