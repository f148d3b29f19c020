/**
 * Notifications as tasks: a `notify` step POSTs one message, retried like any task. A
 * webhook receiver has no read API, so the proof is its 2xx answer; `verify` reports that
 * acknowledgement honestly instead of pretending to read anything back.
 */
import type { Provider } from '../contract.ts';
import { VerificationError } from '../contract.ts';
import { Acknowledgements, PUSH_RECEIVER_HTTP_FACTS } from '../http/acknowledgements.ts';
import { errorForNetwork, errorForStatus } from '../http/errors.ts';
import { fetchOnce, noThrottle, type Throttle } from '../http/request.ts';
import type { NotifyConfig } from './config.ts';
import { notificationBody, notifyEvent } from './message.ts';

export function createNotifyProvider(
  config: NotifyConfig,
  name: string,
  throttle: Throttle = noThrottle,
  now: () => number = Date.now,
): Provider {
  const acknowledged = new Acknowledgements<{ status: number; at: string }>();
  return {
    kind: 'notify',
    name,
    // A channel, not an account: every termination can be notified about.
    resolve: async () => ({ id: name }),
    actions: {
      notify: {
        async execute(_account, ctx) {
          const body = notificationBody(config.format, { terminationId: ctx.terminationId, subject: ctx.subject, params: ctx.params });
          const response = await fetchOnce(config.url, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              // One key per task: a receiver that dedupes drops the copy a retry after a lost
              // answer sends, yet delivers another task's message of the same termination
              // (two failures are two alerts).
              'idempotency-key': ctx.taskId,
              ...config.headers,
            },
            body: JSON.stringify(body),
            signal: ctx.signal,
            timeoutMs: config.timeoutMs,
            throttle,
            summary: `notify ${name}`,
            redirect: 'follow',
          });
          // The body says nothing the proof needs; a receiver that breaks off while sending it did not acknowledge.
          await response.arrayBuffer().catch((error: unknown) => {
            throw errorForNetwork(error, `notify ${name}`, ctx.signal);
          });
          if (!response.ok) throw errorForStatus(response, `notify ${name}: HTTP ${response.status}`, PUSH_RECEIVER_HTTP_FACTS, now());
          const ack = { status: response.status, at: new Date(now()).toISOString() };
          acknowledged.record(ctx.taskId, ack);
          return {
            evidence: {
              channel: name,
              format: config.format,
              // The event the message carried, not the raw param: evidence and message agree.
              event: notifyEvent(ctx.params),
              idempotencyKey: ctx.taskId,
              ...ack,
            },
          };
        },
        async verify(_account, ctx) {
          const ack = acknowledged.take(ctx.taskId);
          if (!ack) throw new VerificationError('no acknowledgement recorded for this notification', { channel: name });
          return {
            acknowledgedWith: ack.status,
            at: ack.at,
            readBack: 'none: a webhook receiver offers no read API; its 2xx is the proof of delivery',
          };
        },
      },
    },
  };
}
