/**
 * What GitHub's answers mean, as facts for the shared mapper (providers/http/errors.ts), and
 * what Octokit throws turned into the engine's errors. GitHub has two rate limits and says
 * which by headers, never only by status: the primary limit answers 403 or 429 with
 * `x-ratelimit-remaining: 0` and `x-ratelimit-reset` (epoch seconds); a secondary limit
 * answers 403 or 429 with `retry-after` (seconds). A 403 with neither is a refusal: the token
 * lacks a permission, or is not authorized for the organization's SAML SSO (`x-github-sso`).
 * Octokit's errors are never attached as `cause`: they hold the request, headers included.
 */
import { PermanentError, RateLimitedError, TransientError } from '../contract.ts';
import {
  engineErrorIn,
  errorForStatus,
  headerReader,
  refusalMessage,
  type HeaderReader,
  type HttpAnswer,
  type ProviderHttpFacts,
} from '../http/errors.ts';
import { parseRetryAfterMs } from '../http/retry-after.ts';

/**
 * A rate limit that names no delay: GitHub's documentation asks clients to wait at least a
 * minute before retrying then.
 */
export const DEFAULT_RATE_LIMIT_DELAY_MS = 60_000;

/** Retry-After first (secondary limits), else the primary limit's reset when it is spent. */
function rateLimitDelayMs(headers: HeaderReader, nowMs: number): number | null {
  const retryAfter = parseRetryAfterMs(headers.get('retry-after'), nowMs);
  if (retryAfter !== null) return retryAfter;
  if (headers.get('x-ratelimit-remaining') !== '0') return null;
  const reset = Number(headers.get('x-ratelimit-reset'));
  if (!Number.isFinite(reset) || reset <= 0) return null;
  return Math.max(0, reset * 1000 - nowMs);
}

/** A 403 is a rate limit only when its headers say so. */
function isRateLimit403({ status, headers }: HttpAnswer): boolean {
  return status === 403 && (headers.get('retry-after') !== null || headers.get('x-ratelimit-remaining') === '0');
}

/** Header values and GitHub's messages are echoed only in this alphabet and length. */
function clean(value: string | null, max = 120): string | null {
  if (value === null) return null;
  const text = value
    .replace(/[^\w .,:;=/'()@-]/g, '')
    .trim()
    .slice(0, max);
  return text === '' ? null : text;
}

/**
 * 401: the token itself. 403 refusals: GitHub names what it wanted in `x-accepted-github-
 * permissions` (fine-grained tokens, GitHub Apps) and `x-accepted-oauth-scopes` (classic
 * tokens); `x-github-sso` means the token is fine but not authorized for the organization's
 * SAML SSO. Then GitHub's own `message`, which names the refusal, never the credential.
 */
function describeGitHubError(answer: HttpAnswer): string {
  const { status, headers, body } = answer;
  const parts: string[] = [];
  if (status === 401) parts.push('the token is invalid, expired or revoked');
  if (status === 403 && !isRateLimit403(answer)) {
    if (headers.get('x-github-sso') !== null) parts.push("the token is not authorized for the organization's SAML SSO");
    const permissions = clean(headers.get('x-accepted-github-permissions'));
    if (permissions) parts.push(`GitHub accepts a token with ${permissions}`);
    const scopes = clean(headers.get('x-accepted-oauth-scopes'));
    if (scopes) parts.push(`or a classic token with scopes ${scopes}`);
  }
  const message = clean(typeof (body as { message?: unknown } | null)?.message === 'string' ? (body as { message: string }).message : null);
  return `${message ? ` ${message}` : ''}${parts.length > 0 ? ` (${parts.join('; ')})` : ''}`;
}

export const GITHUB_HTTP_FACTS: ProviderHttpFacts = {
  defaultRetryAfterMs: DEFAULT_RATE_LIMIT_DELAY_MS,
  rateLimitDelayMs,
  otherRateLimit: (answer) => (isRateLimit403(answer) ? DEFAULT_RATE_LIMIT_DELAY_MS : null),
  describe: describeGitHubError,
};

/** What the adapter says about a call: its name and the permission it needs, for refusals. */
export interface GitHubOperation {
  /** `remove organization membership`: no login, no id. */
  name: string;
  /** `Members: write (classic token: admin:org)`: said when GitHub answers 401 or 403. */
  needs: string;
}

/** The parts of Octokit's RequestError the mapper reads. */
interface OctokitFailure {
  status: number;
  headers: HeaderReader;
  body: unknown;
}

function asOctokitFailure(error: unknown): OctokitFailure | null {
  if (typeof error !== 'object' || error === null) return null;
  const status = Number((error as { status?: unknown }).status);
  const response = (error as { response?: { headers?: unknown; data?: unknown } }).response;
  // Octokit gives a transport failure status 500 and no response: not an answer.
  if (!Number.isInteger(status) || status < 100 || !response) return null;
  return { status, headers: headerReader(response.headers), body: response.data };
}

/** GraphQL answers 200 with `errors`; these types are refusals a retry cannot cure. */
const GRAPHQL_REFUSALS = new Set(['FORBIDDEN', 'NOT_FOUND', 'INSUFFICIENT_SCOPES', 'UNAUTHORIZED']);

function graphqlError(error: unknown, operation: GitHubOperation, nowMs: number): Error | null {
  if (!(error instanceof Error) || error.name !== 'GraphqlResponseError') return null;
  const { errors, headers } = error as { errors?: unknown; headers?: unknown };
  const types = (Array.isArray(errors) ? errors : [])
    .map((e) => (e as { type?: unknown } | null)?.type)
    .filter((t) => typeof t === 'string');
  const named = types.map((t) => clean(t, 40)).filter((t) => t !== null);
  const message = `GitHub ${operation.name}: GraphQL error${named.length > 0 ? ` ${named.join(', ')}` : ''}`;
  if (types.includes('RATE_LIMITED')) {
    return new RateLimitedError(message, rateLimitDelayMs(headerReader(headers), nowMs) ?? DEFAULT_RATE_LIMIT_DELAY_MS);
  }
  if (types.some((t) => GRAPHQL_REFUSALS.has(t))) return new PermanentError(`${message} (needs ${operation.needs})`);
  // "Something went wrong while executing your query" carries no type: GitHub's side timed out.
  return new TransientError(message);
}

/**
 * Anything an Octokit call threw, as a typed error: the engine's own errors (the lease
 * fence, `fetchOnce`'s no-answer error) as they are; GraphQL errors by their `type`; HTTP
 * answers by status and headers, naming the permission the call needs when refused. `token`
 * is cut out of anything echoed from the answer.
 */
export function toGitHubError(error: unknown, operation: GitHubOperation, nowMs: number, token?: string): Error {
  const engine = engineErrorIn(error);
  if (engine) return engine;
  const graphql = graphqlError(error, operation, nowMs);
  if (graphql) return graphql;
  const failure = asOctokitFailure(error);
  if (!failure) {
    if (error instanceof Error && error.name === 'AbortError') return new TransientError(`GitHub ${operation.name}: stopped (aborted)`);
    // Not an answer nor a transport failure: a bug of ours, surfaced as is.
    return error instanceof Error ? error : new Error(`GitHub ${operation.name}: ${String(error)}`);
  }
  const refused = failure.status === 401 || (failure.status === 403 && !isRateLimit403(failure));
  const said = refusalMessage(`GitHub ${operation.name}`, failure, GITHUB_HTTP_FACTS);
  // GitHub's message is echoed; a proxy in front of it could echo the request, so the token is cut out.
  const safe = token ? said.split(token).join('[token]') : said;
  return errorForStatus(failure, `${safe}${refused ? ` (needs ${operation.needs})` : ''}`, GITHUB_HTTP_FACTS, nowMs);
}

/** The HTTP status of an Octokit error, or null when no answer came. */
export function httpStatus(error: unknown): number | null {
  return asOctokitFailure(error)?.status ?? null;
}
