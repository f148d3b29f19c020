/**
 * CAEP as a provider: its `revoke_sessions` pushes a signed `session-revoked` event to every
 * receiver, so they end sessions the provider APIs cannot reach. It is a task like any
 * other (retried, audited, in the evidence). Receivers acknowledge with 202 and have no
 * read API, so `verify` reports the acknowledgements rather than pretending to read back.
 */
import type { JsonObject } from '../../src/domain/types.ts';
import type { Provider, ProviderFactoryContext } from '../contract.ts';
import { PermanentError, VerificationError } from '../contract.ts';
import { Acknowledgements, PUSH_RECEIVER_HTTP_FACTS } from '../http/acknowledgements.ts';
import { errorForStatus } from '../http/errors.ts';
import { fetchOnce, noThrottle } from '../http/request.ts';
import type { CaepConfig } from './config.ts';
import { importSigningKey, signSessionRevoked, subjectId } from './set.ts';

export function createCaepProvider(config: CaepConfig, factory: ProviderFactoryContext): Provider {
  const throttle = factory.throttle ?? noThrottle;
  const acknowledged = new Acknowledgements<JsonObject[]>();
  // Imported on first use, not at start: a bad key fails the task (audited, replayable), not the daemon.
  let privateKey: Promise<CryptoKey> | undefined;
  return {
    kind: 'caep',
    name: factory.name,
    async resolve(subject) {
      const id = subjectId(subject);
      return id ? { id: id.format === 'email' ? id.email : id.id, format: id.format } : null;
    },
    actions: {
      revoke_sessions: {
        async execute(account, ctx) {
          const subject =
            account.format === 'email' ? { format: 'email' as const, email: account.id } : { format: 'opaque' as const, id: account.id };
          const acks: JsonObject[] = [];
          privateKey ??= importSigningKey(config.signingKey);
          for (const receiver of config.receivers) {
            const { jwt, jti } = await signSessionRevoked({
              issuer: config.issuer,
              audience: receiver.audience,
              key: config.signingKey,
              privateKey: await privateKey,
              subject,
              terminationId: ctx.terminationId,
              taskId: ctx.taskId,
              eventTime: ctx.attemptStartedAt,
            });
            const response = await fetchOnce(receiver.url, {
              method: 'POST',
              headers: {
                'content-type': 'application/secevent+jwt',
                accept: 'application/json',
                ...(receiver.token ? { authorization: `Bearer ${receiver.token}` } : {}),
              },
              body: jwt,
              signal: ctx.signal,
              timeoutMs: config.timeoutMs,
              throttle,
              summary: `CAEP push to ${receiver.audience}`,
              redirect: 'follow',
            });
            const text = await response.text();
            if (response.status === 400) {
              // RFC 8935 §2.3: `{ err, description }`; `err` is a fixed vocabulary.
              const err = /"err"\s*:\s*"([a-z_]{1,40})"/.exec(text)?.[1] ?? 'invalid_request';
              throw new PermanentError(`CAEP receiver ${receiver.audience} refused the event: ${err}`);
            }
            if (!response.ok) {
              throw errorForStatus(
                response,
                `CAEP push to ${receiver.audience}: HTTP ${response.status}`,
                PUSH_RECEIVER_HTTP_FACTS,
                Date.now(),
              );
            }
            acks.push({ receiver: receiver.audience, jti, status: response.status });
          }
          acknowledged.record(ctx.taskId, acks);
          return { evidence: { event: 'session-revoked', kid: config.signingKey.kid, receivers: acks } };
        },
        async verify(_account, ctx) {
          const acks = acknowledged.take(ctx.taskId);
          if (!acks) throw new VerificationError('no receiver acknowledgement recorded for this event', {});
          return { acknowledgedBy: acks, readBack: 'none: SSF receivers acknowledge a pushed SET with 202 and offer no read API' };
        },
      },
    },
  };
}
