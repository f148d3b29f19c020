/**
 * The email channel's sandbox (what `config/sandbox.yaml` and the demo run with no
 * credentials): a real SMTP dialogue with smtp-server on loopback, messages kept for the
 * control API, Message-ID de-duplication as receivers do it, and the kit's faults answered
 * as a relay answers them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailModule } from '../providers/email/index.ts';
import type { EmailSandbox } from '../providers/email/sandbox.ts';
import { PermanentError, RateLimitedError, type Provider } from '../providers/contract.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';

const client: Subject = {
  emails: [],
  organization: { id: 'initech', name: 'Initech', domains: ['initech.example'], contacts: ['peter@initech.example'] },
};

describe('email sandbox', () => {
  let sandbox: EmailSandbox;
  let provider: Provider;
  beforeAll(async () => {
    sandbox = (await emailModule.startSandbox({})) as EmailSandbox;
    provider = emailModule.create(emailModule.sandboxConfig(sandbox), { name: 'mail', logger: silentLogger() });
  });
  afterAll(async () => sandbox?.close());

  const send = (taskId: string) =>
    provider.actions.notify!.execute(
      { id: 'mail' },
      actionContext(client, { taskId, params: { template: 'export_ready', to: 'contacts' } }),
    );

  it('keeps what it accepted for the control API, and a resent Message-ID as a duplicate', async () => {
    await send('sandbox-1');
    await send('sandbox-1');
    const kept = await sandboxControl<{ messages: EmailSandbox['messages']; duplicates: EmailSandbox['duplicates'] }>(
      sandbox.url,
      '/messages',
    );
    expect(kept.messages).toEqual([
      expect.objectContaining({
        messageId: '<deprovisiond.sandbox-1@sandbox.example>',
        envelopeFrom: 'offboarding@sandbox.example',
        envelopeTo: ['peter@initech.example'],
        subject: 'Your data export is ready',
        text: expect.stringContaining('https://portal.sandbox.example/exports/test-termination'),
        // HTML-escaped as mustache escapes (a browser decodes the entities in the attribute).
        html: expect.stringContaining('href="https:&#x2F;&#x2F;portal.sandbox.example&#x2F;exports&#x2F;test-termination"'),
      }),
    ]);
    expect(kept.duplicates).toHaveLength(1);
  });

  it('answers its faults as a relay does: 421 and 451 pause the channel, bad credentials (535) and no login (530) are permanent', async () => {
    sandbox.control.setFaults({ rateLimitRate: 1 });
    await expect(send('sandbox-2')).rejects.toBeInstanceOf(RateLimitedError);
    sandbox.control.setFaults({ errorRate: 1 });
    await expect(send('sandbox-3')).rejects.toBeInstanceOf(RateLimitedError);
    sandbox.control.setFaults({});
    const config = emailModule.sandboxConfig(sandbox);
    const wrong = emailModule.create(
      { ...config, smtp: { ...config.smtp, auth: { user: 'deprovisiond', pass: 'wrong' } } },
      { name: 'mail', logger: silentLogger() },
    );
    await expect(wrong.validate!({ signal: AbortSignal.timeout(5_000), logger: silentLogger() })).rejects.toBeInstanceOf(PermanentError);
    const anonymous = emailModule.create(
      { ...config, smtp: { ...config.smtp, auth: undefined } },
      { name: 'mail', logger: silentLogger() },
    );
    await expect(
      anonymous.actions.notify!.execute(
        { id: 'mail' },
        actionContext(client, { taskId: 'sandbox-4', params: { template: 'started', to: 'contacts' } }),
      ),
    ).rejects.toBeInstanceOf(PermanentError);
  });
});
