/**
 * A notification receiver: records every message it accepts, answers like Slack when it
 * is rate limited (429 + Retry-After), and can require a bearer token.
 */
import type { Response } from 'express';
import { createSandboxApp, listenSandbox, type RunningSandbox, type SandboxOptions } from '../sandbox/kit.ts';

export const NOTIFY_SANDBOX_TOKEN = 'sandbox-notify-token';

export interface ReceivedMessage {
  at: number;
  idempotencyKey: string | null;
  body: unknown;
}

export async function startNotifySandbox(options: SandboxOptions = {}): Promise<RunningSandbox & { messages: ReceivedMessage[] }> {
  const messages: ReceivedMessage[] = [];
  const sandbox = createSandboxApp(
    {
      rateLimited: (res: Response, retryAfterMs: number) => {
        res.status(429).set('Retry-After', String(Math.ceil(retryAfterMs / 1000))).type('text/plain').send('rate_limited');
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
          messages.push({ at: Date.now(), idempotencyKey: req.header('idempotency-key') ?? null, body: req.body });
          control.countWrite('message', req.params.channel);
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
  return Object.assign(running, { messages });
}
