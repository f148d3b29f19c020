/**
 * What IAM's answers mean, turned into the engine's errors. IAM speaks the Query protocol:
 * an error is XML (`<ErrorResponse><Error><Type/><Code/><Message/></Error>`), and the SDK
 * throws it with `Code`, `$fault` and `$metadata.httpStatusCode`. The code decides, never
 * the message: IAM's rate limit is `Throttling` with HTTP **400** (not 429) and no
 * Retry-After, so the status alone would call it a refusal. The SDK's errors are never
 * attached as `cause` (they hold the answer and the request's metadata).
 */
import { PermanentError, RateLimitedError, TransientError } from '../contract.ts';
import { engineErrorIn } from '../http/errors.ts';

/**
 * Reported for a throttled call: IAM names no delay. Its limits are per account and per
 * second (a burst refills within seconds), so two seconds lets the bucket refill without
 * stalling a revocation.
 */
export const DEFAULT_THROTTLE_DELAY_MS = 2000;

/**
 * Codes by which AWS says "slow down": IAM sends `Throttling`; the rest are the codes the
 * SDK's own retry strategy treats as throttling (`THROTTLING_ERROR_CODES` in @smithy/core's
 * retry module) that an AWS front end may answer. IAM's `LimitExceeded` (409) is not among
 * them: it is a quota on entities, which waiting does not lift.
 */
const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'SlowDown',
  'BandwidthLimitExceeded',
  'PriorRequestNotComplete',
]);

/** IAM could not answer now: worth another attempt. */
const TRANSIENT = new Set(['ServiceFailure', 'ServiceUnavailable', 'InternalFailure', 'RequestTimeout', 'RequestTimeoutException']);

/**
 * IAM's 409s that the next attempt cures: two changes to one thing at once, and DeleteUser's
 * DeleteConflict (something was attached to the user again between the adapter's cleanup and
 * its delete; the next attempt clears it again).
 */
const CONCURRENT = new Set(['ConcurrentModification', 'ConcurrentModificationException', 'DeleteConflict']);

/** The credentials themselves were refused: the configured key pair, not a permission. */
const BAD_CREDENTIALS: Record<string, string> = {
  InvalidClientTokenId: 'the access key id is unknown to AWS (providers.<name>.credentials.accessKeyId)',
  SignatureDoesNotMatch: 'the signature does not match: wrong secret access key, or a clock more than 15 minutes off',
  IncompleteSignature: 'the request signature is incomplete',
  MissingAuthenticationToken: 'the request carried no credentials',
  ExpiredToken: 'the session token has expired (temporary credentials)',
  RequestExpired: "the request's signing time is more than 15 minutes off: check the clock",
  OptInRequired: 'the account is not subscribed to this service',
};

/** A code as AWS spells them; anything else is not echoed. */
const CODE = /^[A-Za-z][A-Za-z0-9.]{0,80}$/;

/** What the adapter says about a call: its IAM action and the permission it needs, for refusals. */
export interface IamOperation {
  /** The Query action: `DeleteAccessKey`. */
  action: string;
}

/** The parts of the SDK's ServiceException the mapper reads; null for anything else. */
function serviceFailure(error: unknown): { code: string; status: number | null; fault: string | null; message: string } | null {
  if (!(error instanceof Error)) return null;
  const e = error as { Code?: unknown; $fault?: unknown; $metadata?: { httpStatusCode?: unknown } };
  if (typeof e.$fault !== 'string' || typeof e.$metadata !== 'object') return null;
  const code = typeof e.Code === 'string' ? e.Code : error.name;
  const status = Number(e.$metadata.httpStatusCode);
  return { code, status: Number.isInteger(status) ? status : null, fault: e.$fault, message: error.message };
}

/** The IAM error code of what the SDK threw (`NoSuchEntity`), or null when it is no IAM answer. */
export function iamErrorCode(error: unknown): string | null {
  const failure = serviceFailure(error);
  return failure && CODE.test(failure.code) ? failure.code : null;
}

/** AWS's message, on one line, cut short, with the key pair's values cut out. */
function cleanMessage(message: string, secrets: readonly string[]): string {
  let text = message.replace(/\s+/g, ' ').trim();
  for (const secret of secrets) if (secret) text = text.split(secret).join('[redacted]');
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/**
 * Anything an IAM call threw, as a typed error: the engine's own errors (the lease fence,
 * `fetchOnce`'s no-answer error) as they are; IAM's answers by their code, then by status;
 * `secrets` (the configured key pair and session token) are cut out of anything echoed.
 */
export function toIamError(error: unknown, operation: IamOperation, secrets: readonly string[] = []): Error {
  const engine = engineErrorIn(error);
  if (engine) return engine;
  const failure = serviceFailure(error);
  if (!failure) {
    if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) {
      return new TransientError(`AWS IAM ${operation.action}: stopped (${error.name})`);
    }
    // Not an answer nor a transport failure: a bug of ours, surfaced as is.
    return error instanceof Error ? error : new Error(`AWS IAM ${operation.action}: ${String(error)}`);
  }
  const code = CODE.test(failure.code) ? failure.code : 'an unreadable error code';
  const prefix = `AWS IAM ${operation.action}: HTTP ${failure.status ?? '?'} ${code}`;
  const said = cleanMessage(failure.message, secrets);
  const message = said && said !== code ? `${prefix}: ${said}` : prefix;
  if (THROTTLING.has(failure.code) || failure.status === 429) return new RateLimitedError(message, DEFAULT_THROTTLE_DELAY_MS);
  if (TRANSIENT.has(failure.code) || CONCURRENT.has(failure.code)) return new TransientError(message);
  const hint = Object.hasOwn(BAD_CREDENTIALS, failure.code) ? BAD_CREDENTIALS[failure.code] : undefined;
  if (hint) return new PermanentError(`${prefix}: ${hint}`);
  if (failure.code === 'AccessDenied' || failure.code === 'AccessDeniedException' || failure.status === 403) {
    return new PermanentError(`${message} (needs iam:${operation.action})`);
  }
  // A 5xx IAM gave no known code for (a proxy's page): the server side failed.
  if (failure.fault === 'server' || (failure.status !== null && failure.status >= 500)) return new TransientError(message);
  return new PermanentError(message);
}
