/**
 * The email adapter against a real SMTP server (Debian's aiosmtpd on loopback, delivering into
 * a Maildir read back with mailparser): what arrives, under which Message-ID; how a retry
 * behaves; and which typed error each refusal becomes. Skipped with a printed reason where
 * aiosmtpd is not installed (scripts/ensure-smtp.sh), a failure in CI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmailProvider } from '../providers/email/adapter.ts';
import { emailConfigSchema, type EmailConfig } from '../providers/email/config.ts';
import { PermanentError, RateLimitedError, TransientError, type DeprovisionError, type Provider } from '../providers/contract.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';
import { freePort } from './helpers/directory-server.ts';
import { smtpServerAvailable, startSmtpServer, type SmtpServer } from './helpers/smtp.ts';

const available = smtpServerAvailable();

const client: Subject = {
  externalId: 'C-7',
  emails: [],
  organization: { id: 'C-7', name: 'Acme & Sons', domains: ['acme.example'], contacts: ['ops@acme.example', 'cfo@acme.example'] },
};

describe.skipIf(!available)('email adapter against a real SMTP server (aiosmtpd)', () => {
  let server: SmtpServer;
  let config: EmailConfig;
  let provider: Provider;

  beforeAll(async () => {
    server = await startSmtpServer();
    config = emailConfigSchema.parse({
      smtp: { host: server.host, port: server.port },
      from: 'offboarding@provider.example',
      fromName: 'Offboarding',
      accountOwner: ['owner@provider.example'],
      rateLimitDelayMs: 5_000,
    });
    provider = createEmailProvider(config, { name: 'mail', logger: silentLogger() });
  });
  afterAll(async () => server?.stop());

  const send = (taskId: string, params: Record<string, unknown>, extra: Parameters<typeof actionContext>[1] = {}) => {
    const ctx = actionContext(client, {
      taskId,
      terminationId: 'T-smtp',
      effectiveAt: new Date('2026-04-30T12:00:00Z'),
      params: params as never,
      ...extra,
    });
    return { ctx, result: provider.actions.notify!.execute({ id: 'mail' }, ctx) };
  };
  const deliveredWith = async (messageId: string) => (await server.delivered()).filter((m) => m.messageId === messageId);

  it('validates: connects and greets the server', async () => {
    await expect(provider.validate!({ signal: AbortSignal.timeout(10_000), logger: silentLogger() })).resolves.toBeUndefined();
  });

  it('delivers the started message to the contacts under a Message-ID derived from the task, and reports the acceptance', async () => {
    const { ctx, result } = send('task-started-1', { template: 'started', to: 'contacts' });
    const executed = await result;
    const messageId = '<deprovisiond.task-started-1@provider.example>';
    expect(executed.evidence).toMatchObject({
      channel: 'mail',
      template: 'started',
      to: 'contacts',
      messageId,
      accepted: ['ops@acme.example', 'cfo@acme.example'],
      response: expect.stringMatching(/^250/),
    });
    const [mail, ...more] = await deliveredWith(messageId);
    expect(more).toEqual([]);
    expect(mail!.subject).toBe('Your service ends on 2026-04-30');
    expect(mail!.from?.value).toEqual([{ address: 'offboarding@provider.example', name: 'Offboarding' }]);
    expect((Array.isArray(mail!.to) ? mail!.to : [mail!.to]).flatMap((a) => a!.value.map((v) => v.address))).toEqual([
      'ops@acme.example',
      'cfo@acme.example',
    ]);
    expect(mail!.headers.get('x-rcptto')).toBe('ops@acme.example, cfo@acme.example');
    expect(mail!.headers.get('auto-submitted')).toBe('auto-generated');
    expect(mail!.text).toContain('closing the account of Acme & Sons (reference T-smtp)');
    expect(mail!.text).toContain('continues until 2026-04-30 12:00 UTC');
    expect(mail!.html).toBe(false);

    const verified = await provider.actions.notify!.verify({ id: 'mail' }, ctx);
    expect(verified).toMatchObject({
      messageId,
      accepted: ['ops@acme.example', 'cfo@acme.example'],
      readBack: expect.stringMatching(/^none: SMTP/),
    });
    // Reported once: a second verify has no acceptance of its own to show.
    await expect(provider.actions.notify!.verify({ id: 'mail' }, ctx)).rejects.toThrow(/no SMTP acceptance/);
  });

  it('a retry of the same task sends the same Message-ID (receivers de-duplicate); another task gets its own', async () => {
    await send('task-retry', { template: 'account_owner', to: 'accountOwner' }).result;
    await send('task-retry', { template: 'account_owner', to: 'accountOwner' }, { attempt: 2 }).result;
    await send('task-other', { template: 'account_owner', to: 'accountOwner' }).result;
    expect(await deliveredWith('<deprovisiond.task-retry@provider.example>')).toHaveLength(2);
    expect(await deliveredWith('<deprovisiond.task-other@provider.example>')).toHaveLength(1);
  });

  it('a recipient the server refuses (550): the others get the message, the error is permanent and keeps who accepted', async () => {
    const { result } = send('task-refused', { template: 'account_owner', to: ['good@provider.example', 'refused-x@provider.example'] });
    const error = (await result.catch((e: unknown) => e)) as DeprovisionError;
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toMatch(/1 of 2 recipients refused: EENVELOPE 550/);
    expect(error.checkpoint).toEqual({ messageId: '<deprovisiond.task-refused@provider.example>', accepted: ['good@provider.example'] });
    const [mail] = await deliveredWith('<deprovisiond.task-refused@provider.example>');
    expect(mail!.headers.get('x-rcptto')).toBe('good@provider.example');

    // The retry (an operator fixed the address book, or waits it out) goes only to whom it did not reach.
    const retry = send(
      'task-refused',
      { template: 'account_owner', to: ['good@provider.example', 'late@provider.example'] },
      { checkpoint: error.checkpoint! },
    );
    expect((await retry.result).evidence).toMatchObject({ accepted: ['good@provider.example', 'late@provider.example'] });
    const copies = await deliveredWith('<deprovisiond.task-refused@provider.example>');
    expect(copies.map((m) => m.headers.get('x-rcptto'))).toEqual(['good@provider.example', 'late@provider.example']);

    // Everyone accepted already: nothing is sent again.
    const done = send(
      'task-refused',
      { template: 'account_owner', to: ['good@provider.example'] },
      { checkpoint: { accepted: ['good@provider.example'] } },
    );
    expect((await done.result).evidence).toMatchObject({ alreadyDone: true });
    expect(await deliveredWith('<deprovisiond.task-refused@provider.example>')).toHaveLength(2);
  });

  it('maps the server refusing every recipient: 550 permanent, 450 transient, 451 rate-limited with the configured pause', async () => {
    const failing = async (to: string) =>
      (await send(`task-${to}`, { template: 'account_owner', to: [to] }).result.catch((e: unknown) => e)) as Error;
    expect(await failing('refused-all@provider.example')).toBeInstanceOf(PermanentError);
    expect(await failing('deferred-all@provider.example')).toBeInstanceOf(TransientError);
    const limited = await failing('throttled-all@provider.example');
    expect(limited).toBeInstanceOf(RateLimitedError);
    expect(limited).toMatchObject({ retryAfterMs: 5_000 });
    expect(limited.message).toMatch(/451/);
  });

  it('maps no server at all to a transient error, and sends nothing when the lease fence refuses', async () => {
    const closed = createEmailProvider(emailConfigSchema.parse({ ...config, smtp: { host: '127.0.0.1', port: await freePort() } }), {
      name: 'mail',
      logger: silentLogger(),
    });
    const ctx = actionContext(client, { taskId: 'task-closed', params: { template: 'started', to: 'contacts' } });
    await expect(closed.actions.notify!.execute({ id: 'mail' }, ctx)).rejects.toBeInstanceOf(TransientError);

    const fenced = createEmailProvider(config, {
      name: 'mail',
      logger: silentLogger(),
      throttle: () => Promise.reject(new TransientError('lease ends in 10 ms')),
    });
    const before = (await server.delivered()).length;
    await expect(fenced.actions.notify!.execute({ id: 'mail' }, { ...ctx, taskId: 'task-fenced' })).rejects.toThrow(/lease ends/);
    expect((await server.delivered()).length).toBe(before);
  });

  it('skips, with evidence, a contacts step for a subject with no contacts', async () => {
    const ctx = actionContext(
      { userName: 'solo@example.com', emails: [] },
      { taskId: 'task-none', params: { template: 'started', to: 'contacts' } },
    );
    expect(await provider.actions.notify!.execute({ id: 'mail' }, ctx)).toMatchObject({
      skipped: 'no recipient: contacts names no address',
    });
  });
});
