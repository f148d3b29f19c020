/**
 * The brake for a client organization (issue 28), through the daemon: the organization counts
 * once toward `maxTerminations` whatever its size, and an expansion that finds more members
 * than `organizationMembers` holds the termination, its member tasks written but none run,
 * with the count told to the security team, until an operator approves.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderModule } from '../providers/module.ts';
import { notifyModule } from '../providers/notify/index.ts';
import type { ReceivedMessage } from '../providers/notify/sandbox.ts';
import { oktaModule } from '../providers/okta/index.ts';
import { configSchema } from '../src/config/schema.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { pollUntil } from './helpers/poll.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';
import { inlineAttemptsIn } from './helpers/test-module.ts';

const TOKEN = 'operator-token-customer-brake';

describe('the brake and a client organization', () => {
  let dir: string;
  let daemon: Daemon;
  let messages: ReceivedMessage[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-customer-brake-'));
    const config = configSchema.parse({
      server: { port: 0 },
      store: { sqlite: { path: join(dir, 'store.db') } },
      auth: { admin: [{ name: 'ops', token: TOKEN, role: 'operator' }] },
      engine: { retry: { maxAttempts: 3, baseDelay: '10ms', maxDelay: '50ms' } },
      providers: { okta: { kind: 'okta', sandbox: {}, limits: { concurrency: 16 } }, security: { kind: 'notify', sandbox: {} } },
      playbooks: {
        customer: {
          steps: [{ id: 'okta-members', provider: 'okta', action: 'expand_members', params: { actions: ['disable_account'] } }],
        },
      },
      defaultPlaybook: 'customer',
      brake: { maxTerminations: 2, window: '1h', notify: 'security', organizationMembers: 50 },
    });
    daemon = await startDaemon(inlineAttemptsIn(config), {
      configFile: 'customer-brake.yaml',
      logger: silentLogger(),
      modules: new Map<string, ProviderModule>([
        ['okta', oktaModule],
        ['notify', notifyModule],
      ]),
    });
    messages = (daemon.sandboxes.get('security') as unknown as { messages: ReceivedMessage[] }).messages;
  });
  afterAll(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts the organization once, holds its 60 members for approval with the count shown, then runs them', async () => {
    const oktaUrl = daemon.sandboxes.get('okta')!.url;
    const { ids } = await sandboxControl<{ ids: string[] }>(oktaUrl, '/members', { domain: 'big.example', count: 60 });
    const { termination, created } = await daemon.terminations.submit({
      source: 'admin',
      subject: { emails: [], organization: { id: 'big', domains: ['big.example'] } },
      actor: 'admin:ops',
    });
    expect(created).toBe(true);
    expect(termination.state, '60 people are one termination: under maxTerminations 2').toBe('scheduled');

    await pollUntil(
      async () => (await daemon.store.getTermination(termination.id))?.state === 'held',
      () => 'the expansion did not hold the termination',
      20_000,
    );
    const held = (await daemon.store.listAuditOf(termination.id)).find((e) => e.action === 'termination.held');
    expect(held?.data).toMatchObject({ members: 60, threshold: 50, provider: 'okta' });
    await pollUntil(
      async () => messages.some((m) => (m.body as { text?: string }).text?.includes('60 members found at okta')),
      () => 'the security team was not told',
      10_000,
    );
    const members = (await daemon.store.listTasks(termination.id)).filter((t) => t.stepId.startsWith('okta-members/'));
    expect(members).toHaveLength(60);
    expect(
      members.every((t) => t.state === 'pending'),
      'nothing runs while held',
    ).toBe(true);
    for (const id of ids.slice(0, 5)) expect((await sandboxControl<{ status: string }>(oktaUrl, `/users/${id}`)).status).toBe('ACTIVE');

    const res = await fetch(`${daemon.url}/admin/v1/terminations/${termination.id}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(200);
    await pollUntil(
      async () => (await daemon.store.getTermination(termination.id))?.state === 'completed',
      () => 'the approved termination did not complete',
      60_000,
    );
    for (const id of ids) expect((await sandboxControl<{ status: string }>(oktaUrl, `/users/${id}`)).status).toBe('SUSPENDED');
  }, 90_000);

  it('a cancellation after the expansion ran cancels every member task not started, and lists what ran', async () => {
    const oktaUrl = daemon.sandboxes.get('okta')!.url;
    const { ids } = await sandboxControl<{ ids: string[] }>(oktaUrl, '/members', { domain: 'renewed.example', count: 55 });
    const { termination } = await daemon.terminations.submit({
      source: 'admin',
      subject: { emails: [], organization: { id: 'renewed', domains: ['renewed.example'] } },
      actor: 'admin:ops',
    });
    await pollUntil(
      async () => (await daemon.store.getTermination(termination.id))?.state === 'held',
      () => 'the expansion did not hold the termination',
      20_000,
    );
    const res = await fetch(`${daemon.url}/admin/v1/terminations/${termination.id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'the client renewed' }),
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { alreadyRan: Array<{ step: string; state: string }>; tasksCancelled: number };
    expect(answer.alreadyRan.map((t) => t.step)).toContain('okta-members');
    expect(
      answer.alreadyRan.some((t) => t.step.startsWith('okta-members/')),
      'no member task had started',
    ).toBe(false);
    const tasks = await daemon.store.listTasks(termination.id);
    expect(tasks.filter((t) => t.stepId.startsWith('okta-members/') && t.state === 'cancelled')).toHaveLength(55);
    expect(answer.tasksCancelled).toBe(tasks.filter((t) => t.state === 'cancelled').length);
    for (const id of ids) expect((await sandboxControl<{ status: string }>(oktaUrl, `/users/${id}`)).status).toBe('ACTIVE');
  }, 60_000);
});
