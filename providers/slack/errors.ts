/**
 * What Slack's answers mean. Two layers:
 * - HTTP: the Web API answers 200 to nearly everything, and 429 with `Retry-After` (seconds)
 *   when a method's rate tier is exhausted; the SCIM API uses HTTP statuses. Both go through
 *   the shared mapper (providers/http/errors.ts) with the facts below.
 * - The Web API's envelope: HTTP 200 with `{ ok: false, error: "<code>" }`. The code is a
 *   fixed vocabulary (never free text), so it decides the class here, with a message that
 *   tells the operator which token or scope to fix. Message text never decides anything.
 */
import { DeprovisionError, PermanentError, RateLimitedError, TransientError } from '../contract.ts';
import { engineErrorIn, type HttpAnswer, type ProviderHttpFacts } from '../http/errors.ts';

/**
 * Reported for a 429 without a usable Retry-After, and for an `ok:false ratelimited` body.
 * Slack's tiers are per minute (Tier 2: 20, Tier 3: 50, Tier 4: 100+; SCIM about 180 writes),
 * so half a minute lets the window move on without stalling a revocation for long.
 */
export const DEFAULT_RATE_LIMIT_DELAY_MS = 30_000;

export const SLACK_HTTP_FACTS: ProviderHttpFacts = {
  defaultRetryAfterMs: DEFAULT_RATE_LIMIT_DELAY_MS,
  describe: describeSlackError,
};

/** The `user_not_found` family: the account is absent (resolve: none; actions: already done). */
export const ABSENT_CODES: readonly string[] = ['user_not_found', 'users_not_found'];

/** The token was refused outright: missing, revoked, expired or of a deactivated user. */
const BAD_TOKEN = new Set(['not_authed', 'invalid_auth', 'account_inactive', 'token_revoked', 'token_expired', 'no_such_token']);

/** The token is valid but its owner or plan may not do this. */
const NOT_ALLOWED: Record<string, string> = {
  not_allowed_token_type:
    'this token type is not allowed here: admin.* methods take a user token (xoxp-) of an Org Owner or Admin, installed on the organization, not a bot token',
  not_an_admin: "the token's user is not an Org Owner or Admin",
  not_an_enterprise: 'the workspace is not part of an Enterprise Grid organization (admin.* methods need Grid)',
  team_not_on_enterprise: 'the workspace is not part of an Enterprise Grid organization (admin.* methods need Grid)',
  feature_not_enabled: "the organization's plan does not offer this method (admin.* methods need Enterprise Grid)",
  restricted_action: "the token's user may not do this (an Org Owner's or Admin's token is needed)",
  admin_unauthorized: "the token's user may not do this (an Org Owner's or Admin's token is needed)",
  no_permission: 'the token lacks the permission this method needs',
  ekm_access_denied: 'Enterprise Key Management denied access',
  cannot_reset_primary_owner: "only the Primary Owner can reset the Primary Owner's sessions",
  session_reset_not_allowed: "only the Primary Owner can reset the Primary Owner's sessions",
  cannot_reset_bot: 'bot users have no sessions to reset',
};

/** Slack could not answer now: worth another attempt. */
const TRANSIENT = new Set(['fatal_error', 'internal_error', 'service_unavailable', 'request_timeout', 'team_added_to_org']);

/** A Web API error code as Slack spells them; anything else is not a code (a non-JSON body the SDK passed on). */
const CODE = /^[a-z0-9_.]{1,80}$/;
/** A scope list in `needed` / `provided` (`users:read,users:read.email`). */
const SCOPES = /^[a-z0-9_.:,\s]{1,400}$/;

/** The platform error code of what the SDK threw, or null when it is no Web API answer. */
export function platformErrorCode(error: unknown): string | null {
  const data = platformData(error);
  return data && typeof data.error === 'string' && CODE.test(data.error) ? data.error : null;
}

/**
 * Anything a Web API call threw, as a typed error. Our own fetch already turned a non-200
 * answer or a missing answer into one (the SDK wraps it in WebAPIRequestError with it as
 * `cause`); what is left is the `ok:false` envelope. The SDK's error objects are never
 * attached: they carry the request's headers.
 */
export function toSlackError(error: unknown, method: string): Error {
  const engine = engineErrorIn(error);
  if (engine) return engine;
  const data = platformData(error);
  if (!data) return error instanceof Error ? error : new Error(`Slack ${method}: ${String(error)}`);
  return platformError(method, data);
}

function platformError(method: string, data: Record<string, unknown>): DeprovisionError {
  const raw = data.error;
  if (typeof raw !== 'string' || !CODE.test(raw)) {
    // The SDK puts a body it could not parse in `error`: a proxy's page, not Slack's answer.
    return new TransientError(`Slack ${method}: an answer that is not a Web API envelope`);
  }
  const prefix = `Slack ${method}: ${raw}`;
  if (raw === 'ratelimited') return new RateLimitedError(prefix, retryAfterMs(data) ?? DEFAULT_RATE_LIMIT_DELAY_MS);
  if (TRANSIENT.has(raw)) return new TransientError(prefix);
  if (BAD_TOKEN.has(raw)) {
    return new PermanentError(`${prefix}: the Web API token (providers.<name>.token) is missing, revoked or invalid`);
  }
  if (raw === 'missing_scope') {
    const needed = scopes(data.needed);
    const provided = scopes(data.provided);
    return new PermanentError(
      `${prefix}: the token lacks scope ${needed ?? '(not named)'}${provided === null ? '' : ` (it has: ${provided || 'none'})`}`,
    );
  }
  const hint = Object.hasOwn(NOT_ALLOWED, raw) ? NOT_ALLOWED[raw] : undefined;
  if (hint) return new PermanentError(`${prefix}: ${hint}`);
  // Any other code is a refusal of this request (invalid_arguments, user_is_bot...): retrying changes nothing.
  return new PermanentError(prefix);
}

function platformData(error: unknown): Record<string, unknown> | null {
  if (!(error instanceof Error)) return null;
  const { code, data } = error as { code?: unknown; data?: unknown };
  if (code !== 'slack_webapi_platform_error' || typeof data !== 'object' || data === null) return null;
  return data as Record<string, unknown>;
}

function retryAfterMs(data: Record<string, unknown>): number | null {
  const seconds = (data.response_metadata as { retryAfter?: unknown } | undefined)?.retryAfter;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : null;
}

function scopes(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  return SCOPES.test(value) ? value.replace(/\s+/g, '') : '(unreadable)';
}

/**
 * What to say about an HTTP refusal: the Web API's `error` code, or the SCIM error
 * (SCIM 1.1 `{ Errors: { description, code } }`, SCIM 2.0 `{ detail, status }`), cut short.
 */
function describeSlackError({ body }: HttpAnswer): string {
  if (!body || typeof body !== 'object') return '';
  const { error, Errors, detail } = body as { error?: unknown; Errors?: unknown; detail?: unknown };
  if (typeof error === 'string' && CODE.test(error)) return ` ${error}`;
  const first: unknown = Array.isArray(Errors) ? Errors[0] : Errors;
  const description = (first as { description?: unknown } | undefined)?.description;
  const text = typeof description === 'string' ? description : typeof detail === 'string' ? detail : '';
  const clean = text.replace(/\s+/g, ' ').trim();
  return clean ? `: ${clean.length > 160 ? `${clean.slice(0, 160)}…` : clean}` : '';
}
