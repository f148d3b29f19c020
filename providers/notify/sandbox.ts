/**
 * A notification receiver: records every message it accepts, answers like Slack when it
 * is rate limited (429 + Retry-After), and can require a bearer token. It de-duplicates
 * as receivers that honour `Idempotency-Key` do: a second message with a key already seen
 * is answered 200 and dropped (counted in `duplicates`), so a test sees what a person would.
 */
import type { Response } from 'express';
import { createSandboxApp, listenSandbox, type RunningSandbox, type SandboxOptions } from '../sandbox/kit.ts';
import { NOTIFY_SANDBOX_TOKEN } from './sandbox-credentials.ts';

export { NOTIFY_SANDBOX_TOKEN };

export interface ReceivedMessage {
  at: number;
  idempotencyKey: string | null;
  body: unknown;
}

export type NotifySandbox = RunningSandbox & { messages: ReceivedMessage[]; duplicates: ReceivedMessage[] };

export async function startNotifySandbox(options: SandboxOptions = {}): Promise<NotifySandbox> {
  const messages: ReceivedMessage[] = [];
  const duplicates: ReceivedMessage[] = [];
  const sandbox = createSandboxApp(
    {
      rateLimited: (res: Response, retryAfterMs: number) => {
        res
          .status(429)
          .set('Retry-After', String(Math.ceil(retryAfterMs / 1000)))
          .type('text/plain')
          .send('rate_limited');
      },
      serverError: (res) => res.status(500).type('text/plain').send('internal_error'),
      unauthorized: (res) => res.status(403).type('text/plain').send('invalid_token'),
      authorized: (req) => req.headers.authorization === `Bearer ${NOTIFY_SANDBOX_TOKEN}`,
    },
    options,
    (app, control) => {
      app.post('/hooks/:channel', (req, res) => {
        // A lying receiver says ok and drops the message: only its own log can tell.
        if (!control.lie()) {
          const message = { at: Date.now(), idempotencyKey: req.header('idempotency-key') ?? null, body: req.body as unknown };
          const seen = message.idempotencyKey !== null && messages.some((m) => m.idempotencyKey === message.idempotencyKey);
          if (seen) duplicates.push(message);
          else {
            messages.push(message);
            control.countWrite('message', req.params.channel);
          }
        }
        res.status(200).type('text/plain').send('ok');
      });
    },
    (router) => {
      router.get('/messages', (_req, res) => {
        res.json(messages);
      });
    },
  );
  const running = await listenSandbox(sandbox);
  return Object.assign(running, { messages, duplicates });
}
