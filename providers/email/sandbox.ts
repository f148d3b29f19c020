/**
 * An SMTP relay for the sandbox and the demo: smtp-server on 127.0.0.1 speaking real SMTP
 * (EHLO, AUTH PLAIN/LOGIN with the sandbox's credentials, MAIL, RCPT, DATA), keeping every
 * accepted message, parsed, for the control API (`GET /__sandbox/messages`). It de-duplicates
 * by Message-ID as receiving mail systems that do so: a repeat is accepted (250) and kept in
 * `duplicates`, so a test sees what a person's mailbox would. The kit's faults answer as a
 * relay does: rate limits 421 at MAIL FROM, errors 451, timeouts a silent connection, lying
 * writes a 250 for a message that is then dropped. Plain SMTP on loopback only.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { simpleParser, type AddressObject } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { createSandboxApp, listenSandbox, type RunningSandbox, type SandboxOptions } from '../sandbox/kit.ts';
import { EMAIL_SANDBOX_PASSWORD, EMAIL_SANDBOX_USER } from './sandbox-credentials.ts';

export interface ReceivedEmail {
  at: number;
  messageId: string | null;
  envelopeFrom: string | null;
  envelopeTo: string[];
  from: string | null;
  to: string[];
  subject: string | null;
  text: string | null;
  html: string | null;
}

export type EmailSandbox = RunningSandbox & { smtpPort: number; messages: ReceivedEmail[]; duplicates: ReceivedEmail[] };

/** Messages kept: a sandbox runs for a demo or a test, not for ever. */
const MAX_KEPT = 5_000;

function smtpError(message: string, responseCode: number): Error {
  return Object.assign(new Error(message), { responseCode });
}

function addressesOf(value: AddressObject | AddressObject[] | undefined): string[] {
  const list = Array.isArray(value) ? value : value ? [value] : [];
  return list.flatMap((a) => a.value.flatMap((v) => (v.address ? [v.address.toLowerCase()] : [])));
}

export async function startEmailSandbox(options: SandboxOptions & { port?: number; smtpPort?: number } = {}): Promise<EmailSandbox> {
  const messages: ReceivedEmail[] = [];
  const duplicates: ReceivedEmail[] = [];
  // No HTTP API of its own: the kit's app carries the control API and the fault settings.
  const sandbox = createSandboxApp(
    {
      rateLimited: (res) => res.status(429).end(),
      serverError: (res) => res.status(500).end(),
      unauthorized: (res) => res.status(401).end(),
      authorized: () => true,
    },
    options,
    () => undefined,
    (router) => {
      router.get('/messages', (_req, res) => {
        res.json({ messages, duplicates });
      });
    },
  );
  const { control } = sandbox;
  const server = new SMTPServer({
    name: 'sandbox.example',
    banner: 'deprovisiond sandbox relay',
    secure: false,
    // Loopback only; the adapter refuses plain SMTP anywhere else.
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    authMethods: ['PLAIN', 'LOGIN'],
    size: 1024 * 1024,
    logger: false,
    onConnect(session, callback) {
      control.requests.push({ method: 'SMTP', path: '/connect', startedAt: Date.now(), finishedAt: Date.now(), status: 220, fault: null });
      callback();
    },
    onAuth(auth, _session, callback) {
      if (auth.username === EMAIL_SANDBOX_USER && auth.password === EMAIL_SANDBOX_PASSWORD) callback(null, { user: auth.username });
      else callback(smtpError('5.7.8 Authentication credentials invalid', 535));
    },
    onMailFrom(_address, session, callback) {
      if (!session.user) return callback(smtpError('5.7.0 Authentication required', 530));
      const fault = control.drawFault(Date.now());
      if (fault?.kind === 'rate_limited') return callback(smtpError('4.7.0 Too many messages, slow down', 421));
      if (fault?.kind === 'error') return callback(smtpError('4.3.0 Local error in processing', 451));
      if (fault?.kind === 'timeout') return; // never answered: the client's socket timeout ends it
      callback();
    },
    onData(stream, session, callback) {
      simpleParser(stream, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true })
        .then((parsed) => {
          if (control.lie()) return callback();
          const email: ReceivedEmail = {
            at: Date.now(),
            messageId: parsed.messageId ?? null,
            envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address.toLowerCase() : null,
            envelopeTo: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
            from: addressesOf(parsed.from)[0] ?? null,
            to: addressesOf(parsed.to),
            subject: parsed.subject ?? null,
            text: parsed.text ?? null,
            html: typeof parsed.html === 'string' ? parsed.html : null,
          };
          const seen = email.messageId !== null && messages.some((m) => m.messageId === email.messageId);
          const into = seen ? duplicates : messages;
          into.push(email);
          if (into.length > MAX_KEPT) into.shift();
          if (!seen) for (const to of email.envelopeTo) control.countWrite('message', to);
          callback();
        })
        .catch(() => callback(smtpError('5.6.0 Message could not be parsed', 554)));
    },
  });
  server.listen(options.smtpPort ?? 0, '127.0.0.1');
  await once(server.server, 'listening');
  const smtpPort = (server.server.address() as AddressInfo).port;
  const running = await listenSandbox(sandbox, { port: options.port });
  const closeHttp = running.close.bind(running);
  return Object.assign(running, {
    smtpPort,
    messages,
    duplicates,
    close: async () => {
      await closeHttp();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}
