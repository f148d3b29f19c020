/**
 * The OAuth 2.0 client-credentials grant, through openid-client, for every adapter that uses
 * it (SCIM targets, the Microsoft identity platform). No discovery: the token endpoint is
 * configured, so a hand-made ServerMetadata is enough. The token is cached per provider
 * instance and shared by concurrent requests (`CachedToken`).
 */
import * as oauth from 'openid-client';
import { PermanentError, TransientError } from '../contract.ts';
import { CachedToken, type GrantedToken } from './cached-token.ts';
import { errorForStatus, type ProviderHttpFacts } from './errors.ts';

export interface ClientCredentialsOptions {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  scope?: string;
  /** Names the token endpoint in messages: `SCIM token request`. */
  summary: string;
  /** The provider's facts for the status of a refusal (its default rate-limit delay). */
  facts: ProviderHttpFacts;
  timeoutMs: number;
  /** Renew this long before expiry so that no request leaves with a token about to lapse. */
  renewBeforeExpiryMs: number;
  /** Used when the token endpoint does not say how long its token lives. */
  defaultLifetimeMs: number;
  /** The provider's error code beyond OAuth's in an error body (Microsoft's AADSTS number); '' for none. */
  describeError?: (body: Record<string, unknown>) => string;
  now: () => number;
}

export function clientCredentialsToken(options: ClientCredentialsOptions): CachedToken {
  const server: oauth.ServerMetadata = { issuer: new URL(options.tokenUrl).origin, token_endpoint: options.tokenUrl };
  const config = new oauth.Configuration(server, options.clientId, undefined, oauth.ClientSecretPost(options.clientSecret));
  // openid-client refuses plain http; the config schemas let it through for the sandboxes.
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- deprecated only to flag its use: here it is deliberate, for loopback http
  if (options.tokenUrl.startsWith('http://')) oauth.allowInsecureRequests(config);
  config.timeout = Math.max(1, Math.ceil(options.timeoutMs / 1000));
  const parameters: Record<string, string> = options.scope ? { scope: options.scope } : {};
  const fetchToken = async (): Promise<GrantedToken> => {
    let response: Awaited<ReturnType<typeof oauth.clientCredentialsGrant>>;
    try {
      response = await oauth.clientCredentialsGrant(config, parameters);
    } catch (error) {
      throw tokenError(error, options);
    }
    const lifetimeMs = typeof response.expires_in === 'number' ? response.expires_in * 1000 : options.defaultLifetimeMs;
    return { value: response.access_token, lifetimeMs };
  };
  return new CachedToken({
    fetchToken,
    renewBeforeExpiryMs: options.renewBeforeExpiryMs,
    now: options.now,
    abortError: () => new TransientError(`${options.summary} aborted: the attempt was stopped`),
  });
}

/**
 * openid-client throws ResponseBodyError (an OAuth error body: `error` is a fixed code
 * such as `invalid_client`, the body is its `cause`), WWWAuthenticateChallengeError (401
 * with a challenge), ClientError with the Response as `cause` (any other non-200), or
 * fetch's TypeError / AbortError / TimeoutError when no answer came. Only the OAuth code,
 * the provider's code and the status go into the message (an error description may echo
 * the request); the error objects are not attached, so nothing of the request can reach a log.
 */
function tokenError(error: unknown, options: ClientCredentialsOptions): Error {
  const response = responseOf(error);
  if (response) {
    const code = (error as { error?: unknown }).error;
    const oauthCode = typeof code === 'string' && /^[a-z_]{1,60}$/.test(code) ? ` ${code}` : '';
    const body = (error as { cause?: unknown }).cause;
    const detail =
      body && typeof body === 'object' && !(body instanceof Response)
        ? (options.describeError?.(body as Record<string, unknown>) ?? '')
        : '';
    const message = `${options.summary}: HTTP ${response.status}${oauthCode}${detail}`;
    // The one OAuth error that means "try again later" even on a 4xx.
    if (oauthCode === ' temporarily_unavailable') return new TransientError(message);
    // invalid_client (wrong secret), unauthorized_client, unknown tenant: 400/401, permanent.
    return errorForStatus(response, message, options.facts, options.now());
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (error.name === 'TypeError' || error.name === 'AbortError' || error.name === 'TimeoutError') {
      return new TransientError(`${options.summary}: no answer (${error.name})`);
    }
    // An answer openid-client could not use (not JSON, no access_token): the endpoint is misconfigured.
    return new PermanentError(`${options.summary}: unusable answer (${typeof code === 'string' ? code : error.name})`);
  }
  return new TransientError(`${options.summary} failed`);
}

function responseOf(error: unknown): { status: number; headers: Headers } | null {
  if (typeof error !== 'object' || error === null) return null;
  const candidates = [(error as { response?: unknown }).response, (error as { cause?: unknown }).cause];
  for (const candidate of candidates) {
    if (candidate instanceof Response) return { status: candidate.status, headers: candidate.headers };
  }
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number' && status >= 100) return { status, headers: new Headers() };
  return null;
}
