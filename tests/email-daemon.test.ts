/**
 * Client communication through the whole daemon (issue 28): a termination whose playbook
 * tells the client's two contacts that offboarding started and the account owner internally,
 * sent by the email provider to a real SMTP server (aiosmtpd on loopback), read back from its
 * Maildir with mailparser. Skipped with a printed reason where aiosmtpd is not installed
 * (scripts/ensure-smtp.sh), a failure in CI.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailModule } from '../providers/email/index.ts';
import type { ProviderModule } from '../providers/module.ts';
import { configSchema } from '../src/config/schema.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { pollUntil } from './helpers/poll.ts';
import { smtpServerAvailable, startSmtpServer, type SmtpServer } from './helpers/smtp.ts';
import { inlineAttemptsIn } from './helpers/test-module.ts';

const available = smtpServerAvailable();

describe.skipIf(!available)('client communication by email through the daemon', () => {
  let dir: string;
  let smtp: SmtpServer;
  let daemon: Daemon;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-email-'));
    smtp = await startSmtpServer();
    const config = configSchema.parse({
      server: { port: 0 },
      store: { sqlite: { path: join(dir, 'store.db') } },
      auth: { admin: [{ name: 'ops', token: 'operator-token-email-000001', role: 'operator' }] },
      engine: { retry: { maxAttempts: 2, baseDelay: '10ms', maxDelay: '50ms' } },
      providers: {
        mail: {
          kind: 'email',
          smtp: { host: smtp.host, port: smtp.port },
          from: 'offboarding@provider.example',
          fromName: 'Provider offboarding',
          accountOwner: ['owner@provider.example'],
        },
      },
      playbooks: {
        client: {
          steps: [
            { id: 'tell-client-started', provider: 'mail', action: 'notify', params: { template: 'started', to: 'contacts' } },
            { id: 'tell-account-owner', provider: 'mail', action: 'notify', params: { template: 'account_owner', to: 'accountOwner' } },
          ],
        },
      },
      defaultPlaybook: 'client',
    });
    daemon = await startDaemon(inlineAttemptsIn(config), {
      configFile: 'email.yaml',
      logger: silentLogger(),
      modules: new Map<string, ProviderModule>([['email', emailModule]]),
    });
  });
  afterAll(async () => {
    await daemon?.stop();
    await smtp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('tells both contacts and the account owner, each once, under its task’s Message-ID', async () => {
    // Due now: the planner starts steps at effectiveAt (plus their delay).
    const effectiveAt = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    const subject = {
      externalId: 'CUST-42',
      emails: [],
      displayName: 'Acme',
      organization: { id: 'CUST-42', name: 'Acme Corp', domains: ['acme.example'], contacts: ['it@acme.example', 'finance@acme.example'] },
    } as Subject;
    const { termination } = await daemon.terminations.submit({ source: 'admin', subject, actor: 'admin:ops', effectiveAt });
    await pollUntil(
      async () => (await daemon.store.getTermination(termination.id))?.state === 'completed',
      () => 'the termination did not complete',
      15_000,
    );
    const tasks = await daemon.store.listTasks(termination.id);
    const byStep = new Map(tasks.map((t) => [t.stepId, t]));
    const started = byStep.get('tell-client-started')!;
    const owner = byStep.get('tell-account-owner')!;
    expect([started.state, owner.state]).toEqual(['succeeded', 'succeeded']);

    const mails = await smtp.delivered();
    expect(mails).toHaveLength(2);
    const toClient = mails.find((m) => m.messageId === `<deprovisiond.${started.id}@provider.example>`)!;
    const toOwner = mails.find((m) => m.messageId === `<deprovisiond.${owner.id}@provider.example>`)!;
    const recipients = (m: typeof toClient) => (Array.isArray(m.to) ? m.to : [m.to]).flatMap((a) => a!.value.map((v) => v.address));

    const date = effectiveAt.toISOString().slice(0, 10);
    expect(toClient.subject).toBe(`Your service ends on ${date}`);
    expect(recipients(toClient)).toEqual(['it@acme.example', 'finance@acme.example']);
    expect(toClient.headers.get('x-rcptto')).toBe('it@acme.example, finance@acme.example');
    expect(toClient.from?.value).toEqual([{ address: 'offboarding@provider.example', name: 'Provider offboarding' }]);
    expect(toClient.text).toContain(`closing the account of Acme Corp (reference ${termination.id})`);
    expect(toClient.text).toContain(`continues until ${date} ${effectiveAt.toISOString().slice(11, 16)} UTC`);

    expect(toOwner.subject).toBe('Offboarding of Acme Corp has started');
    expect(recipients(toOwner)).toEqual(['owner@provider.example']);
    expect(toOwner.text).toContain(`termination ${termination.id}`);

    // The evidence says what the relay accepted, labelled as an acknowledgement, not a read-back.
    expect(started.evidence).toMatchObject({
      execute: { messageId: `<deprovisiond.${started.id}@provider.example>`, accepted: ['it@acme.example', 'finance@acme.example'] },
      verify: { readBack: expect.stringMatching(/^none: SMTP/) },
    });
  });
});
