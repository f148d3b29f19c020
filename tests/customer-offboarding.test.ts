/**
 * Customer offboarding (issue 28) through the whole daemon: a client organization of 300
 * people across the Okta and SCIM app sandboxes is expanded when its termination runs, every
 * member's access is revoked and read back at the sandbox, and one evidence document lists
 * every member's task. A cancellation in the notice period leaves every member active.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderModule } from '../providers/module.ts';
import { notifyModule } from '../providers/notify/index.ts';
import { oktaModule } from '../providers/okta/index.ts';
import { scimModule } from '../providers/scim/index.ts';
import { configSchema } from '../src/config/schema.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { pollUntil } from './helpers/poll.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';
import { inlineAttemptsIn } from './helpers/test-module.ts';

const TOKEN = 'operator-token-customer-0001';

// Attempts on the daemon's thread (modules injected), and on the attempt worker thread as in production.
describe.each([
  { where: "the daemon's thread", inline: true },
  { where: 'the attempt worker thread', inline: false },
])('customer offboarding through the daemon, attempts on $where', ({ inline }) => {
  let dir: string;
  let daemon: Daemon;
  let oktaUrl: string;
  let appUrl: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-customer-'));
    const config = configSchema.parse({
      server: { port: 0 },
      store: { sqlite: { path: join(dir, 'store.db') } },
      auth: { admin: [{ name: 'ops', token: TOKEN, role: 'operator' }] },
      engine: { retry: { maxAttempts: 3, baseDelay: '10ms', maxDelay: '50ms' } },
      providers: {
        okta: { kind: 'okta', sandbox: {}, limits: { concurrency: 16 } },
        app: { kind: 'scim', sandbox: {}, limits: { concurrency: 16 } },
        security: { kind: 'notify', sandbox: {} },
      },
      playbooks: {
        customer: {
          steps: [
            { id: 'okta-members', provider: 'okta', action: 'expand_members', params: { actions: ['revoke_sessions', 'disable_account'] } },
            { id: 'app-members', provider: 'app', action: 'expand_members', params: { actions: ['disable_account'] } },
            {
              id: 'notify-revoked',
              provider: 'security',
              action: 'notify',
              params: { event: 'revoked' },
              after: ['okta-members', 'app-members'],
            },
          ],
        },
      },
      defaultPlaybook: 'customer',
    });
    daemon = inline
      ? await startDaemon(inlineAttemptsIn(config), {
          configFile: 'customer.yaml',
          logger: silentLogger(),
          modules: new Map<string, ProviderModule>([
            ['okta', oktaModule],
            ['scim', scimModule],
            ['notify', notifyModule],
          ]),
        })
      : await startDaemon(config, { configFile: 'customer.yaml', logger: silentLogger() });
    oktaUrl = daemon.sandboxes.get('okta')!.url;
    appUrl = daemon.sandboxes.get('app')!.url;
  });
  afterAll(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const admin = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${daemon.url}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };

  it('revokes every member found at Okta and the SCIM app, read back at each sandbox, in one evidence document', async () => {
    const okta = await sandboxControl<{ ids: string[] }>(oktaUrl, '/members', { domain: 'client.example', count: 180 });
    const app = await sandboxControl<{ ids: string[] }>(appUrl, '/members', { domain: 'client.example', count: 120 });
    // Someone else's people, at a domain that only starts like the client's: never touched.
    const bystanders = await sandboxControl<{ ids: string[] }>(oktaUrl, '/members', { domain: 'client.example.org', count: 5 });

    const created = await admin<{ terminationId: string }>('POST', '/terminations', {
      subject: { organization: { id: 'client-7', name: 'Client Seven', domains: ['client.example'], contacts: ['it@client.example'] } },
      reason: 'contract ended',
    });
    const id = created.terminationId;
    await pollUntil(
      async () => (await daemon.store.getTermination(id))?.state === 'completed',
      () => 'the organization termination did not complete',
      120_000,
    );

    const tasks = await daemon.store.listTasks(id);
    const memberTasks = tasks.filter((t) => t.stepId.includes('/'));
    expect(memberTasks).toHaveLength(180 * 2 + 120);
    expect(memberTasks.every((t) => t.state === 'succeeded')).toBe(true);

    // Read from the sandboxes themselves: every member's access is gone, nobody else's.
    for (const userId of okta.ids) {
      expect((await sandboxControl<{ status: string }>(oktaUrl, `/users/${userId}`)).status).toBe('SUSPENDED');
    }
    for (const userId of app.ids) {
      expect((await sandboxControl<{ active: boolean }>(appUrl, `/users/${userId}`)).active).toBe(false);
    }
    for (const userId of bystanders.ids) {
      expect((await sandboxControl<{ status: string }>(oktaUrl, `/users/${userId}`)).status).toBe('ACTIVE');
    }

    // The member set is recorded with the expansion, and the expansion audited.
    const expansion = tasks.find((t) => t.stepId === 'okta-members')!;
    expect(expansion.evidence).toMatchObject({ organization: 'client-7', members: 180 });
    const audit = (await daemon.store.listAuditOf(id)).filter((e) => e.action === 'task.expanded');
    expect(audit.map((e) => (e.data as { members: number }).members).sort()).toEqual([120, 180]);

    const doc = await admin<{ tasks: Array<{ step: string; state: string; proof: { kind: string } }>; summary: { total: number } }>(
      'GET',
      `/terminations/${id}/evidence`,
    );
    expect(doc.summary.total).toBe(tasks.length);
    const documented = doc.tasks.filter((t) => t.step.includes('/'));
    expect(documented).toHaveLength(memberTasks.length);
    for (const userId of app.ids) expect(documented.some((t) => t.step === `app-members/${userId}/disable_account`)).toBe(true);
    expect(documented.filter((t) => t.step.endsWith('/disable_account')).every((t) => t.proof.kind === 'verified_by_read_back')).toBe(true);
  }, 180_000);

  it('a cancellation in the notice period runs nothing: every member is still active at both sandboxes', async () => {
    const okta = await sandboxControl<{ ids: string[] }>(oktaUrl, '/members', { domain: 'notice.example', count: 40 });
    const app = await sandboxControl<{ ids: string[] }>(appUrl, '/members', { domain: 'notice.example', count: 30 });
    const effectiveAt = new Date(Date.now() + 3_600_000).toISOString();
    const { terminationId } = await admin<{ terminationId: string }>('POST', '/terminations', {
      subject: { organization: { id: 'notice-client', domains: ['notice.example'] } },
      effectiveAt,
    });
    expect((await daemon.store.getTermination(terminationId))?.state).toBe('scheduled');

    const answer = await admin<{ termination: { state: string }; alreadyRan: unknown[]; tasksCancelled: number }>(
      'POST',
      `/terminations/${terminationId}/cancel`,
      { reason: 'the client renewed' },
    );
    expect(answer.termination.state).toBe('cancelled');
    expect(answer.alreadyRan, 'nothing had started: the expansions were not due').toEqual([]);
    expect(answer.tasksCancelled).toBe(3);
    const tasks = await daemon.store.listTasks(terminationId);
    expect(tasks.every((t) => t.state === 'cancelled')).toBe(true);
    expect(
      tasks.some((t) => t.stepId.includes('/')),
      'no member was ever listed',
    ).toBe(false);

    for (const userId of okta.ids) {
      expect((await sandboxControl<{ status: string }>(oktaUrl, `/users/${userId}`)).status).toBe('ACTIVE');
    }
    for (const userId of app.ids) {
      expect((await sandboxControl<{ active: boolean }>(appUrl, `/users/${userId}`)).active).toBe(true);
    }
    const writes = await sandboxControl<Array<{ accountId: string }>>(oktaUrl, '/writes');
    expect(writes.filter((w) => okta.ids.includes(w.accountId))).toEqual([]);
  });
});
