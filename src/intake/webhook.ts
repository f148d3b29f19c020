/**
 * POST /webhooks/termination: terminations (and rehire cancellations) pushed by an HRIS,
 * signed with Standard Webhooks. A request without the three signature headers is refused
 * before its body is read; the signature is checked on the raw body bytes before anything
 * is parsed; the `webhook-id` is the termination's source event id, and the body
 * it carried is remembered, so a redelivery is answered from the store and a reused id
 * with another body is refused. The answer is 2xx only after the durable write, and a
 * redelivery's answer, read from the store, only once what it read is on disk.
 *
 * A second termination of the same subject follows the store's one rule (answers.ts
 * lists the shapes); a cancellation is made with the webhook channel's authority: it
 * cancels only what the channels in `intake.webhook.mayCancel` (default: webhook) asked for.
 */
import { createHash } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { z } from 'zod';
import type { Config } from '../config/schema.ts';
import type { Termination } from '../domain/types.ts';
import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  UnauthorizedError,
  fromStore,
  invalidInput,
  jsonErrors,
} from '../server/http-errors.ts';
import { JSON_TOO_DEEP, jsonDepthExceeds } from '../server/json-depth.ts';
import { durableRead, type Store } from '../store/store.ts';
import { answerOf, intakeCall, type RequestOutcome } from './answers.ts';
import { checkPlan, terminationFields, toSubject } from './termination-schema.ts';
import type { TerminationService } from './termination-service.ts';

export interface WebhookDeps {
  config: Pick<Config, 'auth' | 'server'>;
  store: Store;
  terminations: TerminationService;
  logger: Logger;
  now: () => Date;
}

const requestedSchema = z
  .object({
    /** Optional: a body without `type` is a termination request. */
    type: z.literal('termination.requested').optional(),
    ...terminationFields,
  })
  .strict();

const cancelledSchema = z
  .object({
    type: z.literal('termination.cancelled'),
    subject: terminationFields.subject,
    reason: terminationFields.reason,
  })
  .strict();

type WebhookEvent = z.infer<typeof requestedSchema> | z.infer<typeof cancelledSchema>;

/** Longest accepted `webhook-id`: ids are opaque, but they end up as keys in two tables. */
const MAX_ID_LENGTH = 256;

export function buildWebhookRouter(deps: WebhookDeps): Router {
  const verifiers = deps.config.auth.webhook.map((secret, i) => {
    try {
      return new Webhook(secret);
    } catch {
      // Name the position only: the value is a secret.
      throw new Error(`auth.webhook[${i}]: expected a Standard Webhooks secret (whsec_ followed by base64)`);
    }
  });
  const logger = deps.logger.child({ component: 'webhook' });
  const router = express.Router();

  // The signature headers are looked at before the body is read: a request that cannot be
  // signed is refused without the daemon buffering (or waiting for) its body.
  const headersFirst = (req: Request, _res: Response, next: NextFunction) => {
    signatureHeaders(req);
    next();
  };
  // Any content type: the signature covers the bytes as sent, whatever the sender labels them.
  router.post(
    '/termination',
    headersFirst,
    express.raw({ type: () => true, limit: deps.config.server.bodyLimit }),
    async (req: Request, res: Response) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const id = verify(verifiers, body, signatureHeaders(req));
      const bodySha256 = createHash('sha256').update(body).digest('hex');

      // A redelivery is answered before the body is judged again: config may have changed since.
      const seen = await fromStore(() => deps.store.webhookDeliveries.get(id));
      // A delivery seen before decides the answer (409, or the earlier answer) from these
      // reads alone: it waits until what they saw is on disk. A first delivery goes on to
      // writes whose own commit it awaits, so it does not wait here.
      if (seen && seen.bodySha256 !== bodySha256) {
        await fromStore(() => deps.store.durable());
        throw reusedId();
      }
      if (seen?.terminationId) {
        const known = await fromStore(() => durableRead(deps.store, () => deps.store.getTermination(seen.terminationId!)));
        if (known) return reply(res, 200, known, true, (seen.outcome as RequestOutcome | null) ?? 'created');
      }

      const event = parseEvent(body);
      const subject = toSubject(event.subject);
      if (event.type !== 'termination.cancelled') {
        // Checked before anything is written: an unknown playbook stores nothing.
        checkPlan(deps.terminations, { subject, effectiveAt: event.effectiveAt ?? null, playbook: event.playbook ?? null });
      }

      const claimed = await fromStore(() => deps.store.webhookDeliveries.claim({ id, bodySha256, receivedAt: deps.now() }));
      // Another delivery with this id and another body got here first.
      if (claimed.bodySha256 !== bodySha256) throw reusedId();

      const actor = `webhook:${id}`;
      if (event.type === 'termination.cancelled') {
        // A refusal (the termination was asked for by a channel the webhook may not cancel for) is a 409, audited.
        const cancelled = await intakeCall(() =>
          durableRead(deps.store, () =>
            deps.terminations.cancelForSubject('webhook', subject, actor, event.reason ?? 'cancelled by webhook (rehire)'),
          ),
        );
        if (!cancelled) throw new NotFoundError('subject: no open termination for this subject; nothing was cancelled');
        await fromStore(() => deps.store.webhookDeliveries.settle(id, cancelled.id, 'cancelled'));
        logger.info({ terminationId: cancelled.id, webhookId: id }, 'termination cancelled by webhook');
        return reply(res, 200, cancelled, false, 'cancelled');
      }
      const result = await intakeCall(() =>
        deps.terminations.submit({
          source: 'webhook',
          sourceEventId: id,
          subject,
          reason: event.reason ?? null,
          effectiveAt: event.effectiveAt ?? null,
          playbook: event.playbook ?? null,
          actor,
        }),
      );
      await fromStore(() => deps.store.webhookDeliveries.settle(id, result.termination.id, result.outcome));
      logger.info(
        { terminationId: result.termination.id, webhookId: id, outcome: result.outcome, duplicate: result.duplicate },
        'termination received by webhook',
      );
      const answer = answerOf(result);
      res.status(answer.status).json(answer.body);
    },
  );

  router.use(jsonErrors(logger));
  return router;
}

type SignatureHeaders = Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string>;

/** The three Standard Webhooks headers: 401 when one is missing, 400 when the id is too long. */
function signatureHeaders(req: Request): SignatureHeaders {
  const headers = {
    'webhook-id': header(req, 'webhook-id'),
    'webhook-timestamp': header(req, 'webhook-timestamp'),
    'webhook-signature': header(req, 'webhook-signature'),
  };
  if (!headers['webhook-id'] || !headers['webhook-timestamp'] || !headers['webhook-signature']) {
    throw new UnauthorizedError('missing webhook-id, webhook-timestamp or webhook-signature header');
  }
  if (headers['webhook-id'].length > MAX_ID_LENGTH) throw new BadRequestError(`webhook-id: expected at most ${MAX_ID_LENGTH} characters`);
  return headers;
}

/** Checks the signature with every configured secret (rotation); returns the verified `webhook-id`. */
function verify(verifiers: Webhook[], body: Buffer, headers: SignatureHeaders): string {
  for (const verifier of verifiers) {
    try {
      // jsonParse off: a signed body that is not JSON is a 400, decided below, not a 401.
      verifier.verify(body, headers, { jsonParse: false });
      return headers['webhook-id'];
    } catch {
      // Try the next secret. The library's reason (stale timestamp, no match) is not told
      // to the caller beyond "invalid": it would help a forger more than a sender.
    }
  }
  throw new UnauthorizedError('invalid webhook signature or timestamp outside the 5-minute tolerance');
}

function header(req: Request, name: string): string {
  const value = req.headers[name];
  return typeof value === 'string' ? value : '';
}

function parseEvent(body: Buffer): WebhookEvent {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new BadRequestError('body: invalid JSON');
  }
  if (jsonDepthExceeds(json)) throw new BadRequestError(JSON_TOO_DEEP);
  const type = (json as { type?: unknown } | null)?.type;
  const parsed = type === 'termination.cancelled' ? cancelledSchema.safeParse(json) : requestedSchema.safeParse(json);
  if (!parsed.success) throw invalidInput(parsed.error);
  return parsed.data;
}

function reusedId(): ConflictError {
  return new ConflictError(
    'webhook-id already used for a different body; nothing was written. Send a new webhook-id for a new message, or the same body to get the earlier answer',
  );
}

function reply(res: Response, status: number, termination: Termination, duplicate: boolean, outcome: RequestOutcome): void {
  res.status(status).json({ terminationId: termination.id, state: termination.state, duplicate, outcome });
}
