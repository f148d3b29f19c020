/**
 * Customer offboarding's billing part (issue 28) through the whole daemon against the
 * Stripe sandbox: a client with two subscriptions and an open invoice. The subscriptions end
 * at the period's end (read from the sandbox); settle_billing stays pending, visibly overdue
 * (its checkpoint's `waitingFor`, the evidence's label, `deprovisiond_tasks_overdue`) without failing; the client pays,
 * and the next check settles it, verified by read-back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderModule } from '../providers/module.ts';
import { notifyModule } from '../providers/notify/index.ts';
import type { ReceivedMessage } from '../providers/notify/sandbox.ts';
import { stripeModule } from '../providers/stripe/index.ts';
import type { SeededCustomer } from '../providers/stripe/sandbox.ts';
import { proofOf } from '../src/audit/proof.ts';
import { configSchema } from '../src/config/schema.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import type { Task } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { pollUntil } from './helpers/poll.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';
import { inlineAttemptsIn } from './helpers/test-module.ts';

describe('customer offboarding: billing through the Stripe sandbox', () => {
  let dir: string;
  let daemon: Daemon;
  let messages: ReceivedMessage[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-billing-'));
    const config = configSchema.parse({
      server: { port: 0 },
      store: { sqlite: { path: join(dir, 'store.db') } },
      auth: { admin: [{ name: 'ops', token: 'operator-token-billing-0001', role: 'operator' }], publicMetrics: true },
      engine: { retry: { maxAttempts: 2, baseDelay: '10ms', maxDelay: '50ms' } },
      providers: { billing: { kind: 'stripe', sandbox: {} }, security: { kind: 'notify', sandbox: {} } },
      playbooks: {
        customer: {
          steps: [
            { id: 'end-subscriptions', provider: 'billing', action: 'cancel_subscriptions' },
            // Checked every second here; hourly by default.
            { id: 'settle', provider: 'billing', action: 'settle_billing', params: { checkEvery: '1s' }, after: ['end-subscriptions'] },
          ],
          onFailure: { provider: 'security' },
        },
      },
      defaultPlaybook: 'customer',
    });
    daemon = await startDaemon(inlineAttemptsIn(config), {
      configFile: 'billing.yaml',
      logger: silentLogger(),
      modules: new Map<string, ProviderModule>([
        ['stripe', stripeModule],
        ['notify', notifyModule],
      ]),
    });
    messages = (daemon.sandboxes.get('security') as unknown as { messages: ReceivedMessage[] }).messages;
  });
  afterAll(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const overdueGauge = async () => {
    const text = await (await fetch(`${daemon.url}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith('deprovisiond_tasks_overdue{') && l.includes('provider="billing",action="settle_billing"'));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  };

  it('ends the subscriptions at period end, waits visibly while an invoice is owed, and settles once it is paid', async () => {
    const billing = daemon.sandboxes.get('billing')!.url;
    const seeded = await sandboxControl<SeededCustomer>(billing, '/customers', {
      email: 'accounts@acme-client.example',
      clientId: 'CL-4242',
      subscriptions: 2,
      openInvoices: [{ amountDue: 12000, currency: 'eur', daysPastDue: 5 }],
    });
    const { termination } = await daemon.terminations.submit({
      source: 'admin',
      subject: { externalId: 'CL-4242', emails: ['accounts@acme-client.example'] },
      actor: 'admin:ops',
    });
    const task = async (step: string): Promise<Task> => (await daemon.store.listTasks(termination.id)).find((t) => t.stepId === step)!;

    await pollUntil(
      async () => (await task('end-subscriptions')).state === 'succeeded',
      () => 'cancel_subscriptions did not succeed',
      10_000,
    );
    const afterCancel = await sandboxControl<{ subscriptions: Array<{ id: string; status: string; cancel_at_period_end: boolean }> }>(
      billing,
      `/customers/${seeded.customer}`,
    );
    expect(afterCancel.subscriptions.map((s) => [s.id, s.status, s.cancel_at_period_end]).sort()).toEqual(
      seeded.subscriptions.map((id) => [id, 'active', true]).sort(),
    );

    // Money owed: the step waits, says so, and neither fails nor succeeds.
    let settle = await task('settle');
    await pollUntil(
      async () => typeof (settle = await task('settle')).checkpoint?.waitingFor === 'string',
      () => `settle_billing never said what it waits for: ${JSON.stringify(settle)}`,
      10_000,
    );
    const waiting = settle.checkpoint!.waitingFor as string;
    expect(waiting).toMatch(/^overdue: 1 invoice open, amount due 120\.00 EUR since \d{4}-\d{2}-\d{2}$/);
    expect(settle.state).toBe('pending');
    expect(settle.lastError).toBeNull();
    expect(proofOf(settle, []).label).toBe(`not finished (pending): ${waiting}`);
    expect((await daemon.store.getTermination(termination.id))?.state).toBe('running');
    // No deadline was agreed, so it is overdue at once: alertable, audited, told, never a silent pending.
    expect(await overdueGauge()).toBe(1);
    const overdueMessages = () => messages.filter((m) => (m.body as { type?: unknown }).type === 'deprovisiond.termination.overdue');
    await pollUntil(
      async () => overdueMessages().length === 1,
      () => `no overdue notification: ${JSON.stringify(messages.map((m) => m.body))}`,
      10_000,
    );
    expect(overdueMessages()[0]!.body).toMatchObject({ terminationId: termination.id, overdueStep: 'settle', waitingFor: waiting });
    expect((overdueMessages()[0]!.body as { text: string }).text).toContain('is overdue: step settle still waits (overdue: 1 invoice open');
    const audit = await daemon.store.listAuditOf(termination.id);
    expect(audit.filter((e) => e.action === 'task.overdue')).toHaveLength(1);
    // A check later it still waits, on no attempt of its budget.
    const checksBefore = (settle.checkpoint!.checkedAt as string) ?? '';
    await pollUntil(
      async () => (settle = await task('settle')).checkpoint?.checkedAt !== checksBefore,
      () => 'settle_billing did not check again',
      10_000,
    );
    expect(settle.state).toBe('pending');
    expect(settle.attempts).toBeLessThanOrEqual(1);
    // Told once per crossing, not at every check.
    expect(overdueMessages()).toHaveLength(1);

    // The client pays: the next check finds nothing owed, and the read-back proves it.
    await sandboxControl(billing, `/invoices/${seeded.invoices[0]!}/pay`, {});
    await pollUntil(
      async () => (settle = await task('settle')).state === 'succeeded',
      () => `settle_billing did not succeed after payment: ${JSON.stringify(settle)}`,
      10_000,
    );
    expect(settle.evidence).toMatchObject({ verify: { customer: seeded.customer, outstandingInvoices: 0 } });
    expect(proofOf(settle, []).kind).toBe('verified_by_read_back');
    expect(await overdueGauge()).toBe(0);
    await pollUntil(
      async () => (await daemon.store.getTermination(termination.id))?.state === 'completed',
      () => 'the termination did not complete',
      10_000,
    );
  });
});
