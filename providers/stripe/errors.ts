/**
 * What Stripe's answers mean, from what the official SDK throws (its error classes carry
 * the HTTP status, headers and Stripe's `type`/`code`, never decided by message text):
 * - 429 (StripeRateLimitError, also a 400 `rate_limit`) -> RateLimitedError: Retry-After
 *   when Stripe sends one, else one second (Stripe's limits are per second);
 * - 409 (a concurrent request on the same object or idempotency key), 5xx (StripeAPIError),
 *   and `Stripe-Should-Retry: true` -> TransientError;
 * - no answer (StripeConnectionError) -> the TransientError our fetch raised, as it is;
 * - 401 (StripeAuthenticationError), 403 (StripePermissionError: a restricted key without
 *   the permission), 400/404 (StripeInvalidRequestError, StripeIdempotencyError) -> PermanentError.
 * Stripe's own message can quote the key it refused (masked) and request data: it is kept
 * out of our messages for 401/403 and cut short and scrubbed for the rest.
 */
import Stripe from 'stripe';
import { PermanentError, TransientError } from '../contract.ts';
import { engineErrorIn, errorForStatus, headerReader, type ProviderHttpFacts } from '../http/errors.ts';

/** Reported for a 429 that names no delay. */
export const DEFAULT_RATE_LIMIT_DELAY_MS = 1000;

export const STRIPE_HTTP_FACTS: ProviderHttpFacts = { defaultRetryAfterMs: DEFAULT_RATE_LIMIT_DELAY_MS };

/** One API call, named for messages, with the restricted-key permission it needs. */
export interface StripeOperation {
  name: string;
  needs: string;
}

/** A Stripe error code or type as Stripe spells them; anything else is not repeated. */
const CODE = /^[a-z0-9_]{1,60}$/;
/** Keys and client secrets that an error message might quote. */
const SECRETS = /\b(?:sk|rk|pk)_(?:live|test)_[*\w]+|\b\w+_secret_\w+/g;

/** The `code` Stripe gave (`resource_missing`, `rate_limit`...), or null. */
export function stripeErrorCode(error: unknown): string | null {
  if (!(error instanceof Stripe.errors.StripeError)) return null;
  return typeof error.code === 'string' && CODE.test(error.code) ? error.code : null;
}

/** The HTTP status of a Stripe API answer, or null when none came. */
export function stripeStatus(error: unknown): number | null {
  return error instanceof Stripe.errors.StripeError && typeof error.statusCode === 'number' ? error.statusCode : null;
}

/** Anything a call threw, as a typed error. The SDK's error objects are never attached: they carry headers. */
export function toStripeError(error: unknown, operation: StripeOperation, nowMs: number): Error {
  const engine = engineErrorIn(error) ?? engineErrorIn((error as { detail?: unknown } | null)?.detail);
  if (engine) return engine;
  if (!(error instanceof Stripe.errors.StripeError))
    return error instanceof Error ? error : new Error(`Stripe ${operation.name}: ${String(error)}`);
  const status = stripeStatus(error);
  if (error instanceof Stripe.errors.StripeConnectionError || status === null) {
    return new TransientError(`Stripe ${operation.name}: no answer (${error.type})`);
  }
  const message = `Stripe ${operation.name}: HTTP ${status}${describe(error)}`;
  const headers = headerReader(error.headers ?? {});
  if (error instanceof Stripe.errors.StripeRateLimitError) {
    return errorForStatus({ status: 429, headers }, message, STRIPE_HTTP_FACTS, nowMs);
  }
  if (headers.get('stripe-should-retry') === 'true' || status === 409) return new TransientError(message);
  if (status === 401) return new PermanentError(`${message}: the API key (providers.<name>.apiKey) is missing, revoked or invalid`);
  if (status === 403) return new PermanentError(`${message}: the key lacks the permission ${operation.needs}`);
  return errorForStatus({ status, headers }, message, STRIPE_HTTP_FACTS, nowMs);
}

function describe(error: InstanceType<typeof Stripe.errors.StripeError>): string {
  const type = typeof error.rawType === 'string' && CODE.test(error.rawType) ? error.rawType : null;
  const code = stripeErrorCode(error);
  const head = [type, code].filter((v) => v !== null).join(' ');
  if (error.statusCode === 401 || error.statusCode === 403) return head ? ` ${head}` : '';
  const text = (error.raw as { message?: unknown } | undefined)?.message;
  const clean = typeof text === 'string' ? text.replace(SECRETS, '[redacted]').replace(/\s+/g, ' ').trim() : '';
  const said = clean.length > 160 ? `${clean.slice(0, 160)}…` : clean;
  return `${head ? ` ${head}` : ''}${said ? `: ${said}` : ''}`;
}
