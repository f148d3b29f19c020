/**
 * Customer offboarding (issue 28), all of it at once: config/sandbox.yaml's `customer` playbook
 * through the whole daemon, a client of 350 people across the Okta and SCIM app sandboxes, its
 * in-house tenant, its Stripe billing, and its emails through a real SMTP server (Debian's
 * aiosmtpd, started here). Everything is read back where it happened: the sandboxes' own state,
 * the messages the SMTP server delivered, the audit log and one evidence document.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReceivedMessage } from '../providers/notify/sandbox.ts';
import { loadConfig } from '../src/config/load.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { pollUntil } from './helpers/poll.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';
import { smtpServerAvailable, startSmtpServer, type SmtpServer } from './helpers/smtp.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TOKEN = 'operator-token-customer-full-01';
const OKTA_PEOPLE = 200;
const APP_PEOPLE = 150;

const client = {
  externalId: 'CUST-7001',
  emails: [],
  organization: {
    id: 'CUST-7001',
    name: 'Globex',
    domains: ['globex.example'],
    tenants: { scim: 'Globex' },
    contacts: ['it@globex.example', 'finance@globex.example'],
  },
};

describe.skipIf(!smtpServerAvailable())('customer offboarding end to end: people, tenant, billing, emails, checklist, one evidence', () => {
  let dir: string;
  let smtp: SmtpServer;
  let daemon: Daemon;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-customer-full-'));
    smtp = await startSmtpServer();
    const configFile = join(ROOT, 'config/sandbox.yaml');
    const config = loadConfig(configFile, { ...process.env, ADMIN_TOKEN: TOKEN, RETENTION: '1s' });
    config.store = { sqlite: { path: join(dir, 'store.db') } };
    config.server = { ...config.server, host: '127.0.0.1', port: 0 };
    // The client's mail goes to a real SMTP server instead of the sandbox relay.
    config.providers.mail = {
      kind: 'email',
      limits: { concurrency: 4 },
      smtp: { host: smtp.host, port: smtp.port },
      from: 'offboarding@provider.example',
      accountOwner: ['account.owner@provider.example'],
      surveyUrl: 'https://feedback.provider.example/offboarding',
      exportLink: 'https://portal.provider.example/exports/{{subject.organization.id}}',
    };
    daemon = await startDaemon(config, { configFile, logger: silentLogger() });
  }, 60_000);
  afterAll(async () => {
    await daemon?.stop();
    await smtp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
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
  const url = (name: string) => daemon.sandboxes.get(name)!.url;

  it('offboards a client of 350 people and proves each part where it happened', async () => {
    const okta = await sandboxControl<{ ids: string[] }>(url('okta'), '/members', { domain: 'globex.example', count: OKTA_PEOPLE });
    const app = await sandboxControl<{ ids: string[] }>(url('app'), '/members', {
      domain: 'globex.example',
      count: APP_PEOPLE,
      organization: 'Globex',
    });

    const { terminationId: id } = await admin<{ terminationId: string }>('POST', '/terminations', {
      subject: client,
      playbook: 'customer',
      reason: 'contract ended',
    });
    // The checklist is people's: completed through the admin API once the machines are done, each audited with who did it.
    const manual = async () => (await daemon.store.listTasks(id)).filter((t) => t.action === 'manual' && t.state === 'pending');
    let unfinished: unknown[] = [];
    await pollUntil(
      async () => {
        const tasks = await daemon.store.listTasks(id);
        unfinished = tasks
          .filter((t) => t.action !== 'manual' && t.action !== 'delete_account' && t.state !== 'succeeded')
          .map((t) => [t.stepId, t.state, t.lastError]);
        return tasks.length > 20 && unfinished.length === 0;
      },
      () => `the machines did not finish: ${JSON.stringify(unfinished.slice(0, 5))}`,
      180_000,
    );
    for (const task of await manual()) {
      await admin('POST', `/terminations/${id}/tasks/${task.id}/complete`, {
        outcome: 'done',
        reason: `done with the client: ${task.stepId}`,
      });
    }
    let state: string | undefined;
    await pollUntil(
      async () => (state = (await daemon.store.getTermination(id))?.state) === 'completed',
      () => `the termination did not complete: ${state}`,
      60_000,
    );
    const tasks = await daemon.store.listTasks(id);
    const step = (name: string) => tasks.find((t) => t.stepId === name)!;

    // Every member's access, read from the sandboxes themselves.
    const members = tasks.filter((t) => t.stepId.includes('/'));
    expect(members).toHaveLength(OKTA_PEOPLE * 2 + APP_PEOPLE);
    for (const userId of okta.ids)
      expect((await sandboxControl<{ status: string }>(url('okta'), `/users/${userId}`)).status).toBe('SUSPENDED');
    for (const userId of app.ids) expect((await sandboxControl<{ active: boolean }>(url('app'), `/users/${userId}`)).active).toBe(false);

    // The tenant: keys and apps gone, disabled, the export ready before its data was deleted.
    const tenantId = (step('inhouse-disable').account as { id: string }).id;
    const tenant = await sandboxControl<Record<string, unknown>>(url('inhouse'), `/tenants/${tenantId}`);
    expect(tenant).toMatchObject({ enabled: false });
    expect(step('inhouse-export').finishedAt!.getTime()).toBeLessThanOrEqual(step('inhouse-delete').startedAt!.getTime());
    expect(step('inhouse-export').evidence).toMatchObject({ verify: { readyExports: 1, downloadLinkPresent: true } });
    expect(step('inhouse-delete').evidence).toMatchObject({ verify: { dataDeleted: true } });

    // Billing: every subscription ended or ending, no invoice left open.
    const customerId = (step('billing-cancel').evidence as { verify: { customer: string } }).verify.customer;
    const billing = await sandboxControl<{
      subscriptions: Array<{ status: string; cancel_at_period_end: boolean }>;
      invoices: Array<{ status: string }>;
    }>(url('billing'), `/customers/${customerId}`);
    expect(billing.subscriptions.length).toBeGreaterThan(0);
    expect(billing.subscriptions.every((s) => s.status === 'canceled' || s.cancel_at_period_end)).toBe(true);
    expect(billing.invoices.filter((i) => i.status === 'open' || i.status === 'draft')).toEqual([]);

    // Told: the security channel, and the client and its account owner by email, as the SMTP server received them.
    const security = (daemon.sandboxes.get('security') as unknown as { messages: ReceivedMessage[] }).messages;
    const told = security.filter((m) => JSON.stringify(m.body).includes(id)).map((m) => (m.body as { type?: string }).type);
    expect(told).toEqual(expect.arrayContaining(['deprovisiond.termination.started', 'deprovisiond.termination.revoked']));
    const delivered = await smtp.delivered();
    const mails = delivered.map((m) => ({ subject: m.subject, to: [m.to].flat().flatMap((a) => a?.value.map((v) => v.address) ?? []) }));
    expect(mails).toEqual(
      expect.arrayContaining([
        { subject: 'Offboarding of Globex has started', to: ['account.owner@provider.example'] },
        { subject: expect.stringMatching(/^Your service ends on /), to: client.organization.contacts },
        { subject: 'Your data export is ready', to: client.organization.contacts },
        { subject: 'Your account has been closed', to: client.organization.contacts },
      ]),
    );
    expect(delivered).toHaveLength(4);
    expect(delivered.find((m) => m.subject === 'Your data export is ready')?.text).toContain(
      'https://portal.provider.example/exports/CUST-7001',
    );

    // The checklist: each item attested by the operator who completed it.
    const audit = await daemon.store.listAuditOf(id);
    const completed = audit.filter((e) => e.action === 'task.completed_manually');
    expect(completed.map((e) => e.actor)).toEqual(['admin:admin', 'admin:admin']);

    // One evidence document covering all of it.
    const doc = await admin<{ summary: { total: number }; tasks: Array<{ step: string; proof: { kind: string } }> }>(
      'GET',
      `/terminations/${id}/evidence`,
    );
    expect(doc.summary.total).toBe(tasks.length);
    const kinds = new Map(doc.tasks.map((t) => [t.step, t.proof.kind]));
    expect(kinds.get('material-returned')).toBe('attested');
    expect(kinds.get('exit-call')).toBe('attested');
    expect(kinds.get('billing-settle')).toBe('verified_by_read_back');
    expect(kinds.get('tell-client-completed')).toBe('acknowledged_by_receiver');
    expect(doc.tasks.filter((t) => t.step.endsWith('/disable_account')).every((t) => t.proof.kind === 'verified_by_read_back')).toBe(true);
  }, 300_000);
});
