/**
 * Where the SCIM client's bearer token comes from: a static token from config, or the
 * OAuth 2.0 client-credentials grant through openid-client (no discovery: the token
 * endpoint is configured, so a hand-made ServerMetadata is enough). One token is cached
 * per provider instance and shared by concurrent requests.
 */
import * as oauth from 'openid-client';
import { PermanentError, TransientError } from '../contract.ts';
import { CachedToken, type GrantedToken, type IssuedToken } from '../http/cached-token.ts';
import type { ScimAuthConfig } from './config.ts';
import { errorForStatus } from './errors.ts';

/** Renew this long before expiry so that no request leaves with a token about to lapse. */
const RENEW_BEFORE_EXPIRY_MS = 60_000;
/** Used when the token endpoint does not say how long its token lives. */
const DEFAULT_TOKEN_LIFETIME_MS = 5 * 60_000;

export type BearerToken = IssuedToken;

export interface TokenSource {
  get(signal: AbortSignal): Promise<BearerToken>;
  /** The target refused the token (401): forget it so the next call fetches another. */
  invalidate(generation: number): void;
  /** False for a static token: a 401 cannot be cured by asking again. */
  readonly renewable: boolean;
}

export function createTokenSource(auth: ScimAuthConfig, timeoutMs: number, now: () => number = Date.now): TokenSource {
  if ('bearerToken' in auth) {
    const token = { value: auth.bearerToken, generation: 1, fresh: false };
    return { get: async () => token, invalidate: () => {}, renewable: false };
  }
  return new ClientCredentialsTokenSource(auth, timeoutMs, now);
}

type ClientCredentials = Exclude<ScimAuthConfig, { bearerToken: string }>;

class ClientCredentialsTokenSource implements TokenSource {
  readonly renewable = true;
  private readonly config: oauth.Configuration;
  private readonly token: CachedToken;

  constructor(
    private readonly auth: ClientCredentials,
    timeoutMs: number,
    private readonly now: () => number,
  ) {
    const server: oauth.ServerMetadata = { issuer: new URL(auth.tokenUrl).origin, token_endpoint: auth.tokenUrl };
    this.config = new oauth.Configuration(server, auth.clientId, undefined, oauth.ClientSecretPost(auth.clientSecret));
    // openid-client refuses plain http; the config schema only lets http through for loopback hosts (the sandbox).
    if (auth.tokenUrl.startsWith('http://')) oauth.allowInsecureRequests(this.config);
    this.config.timeout = Math.max(1, Math.ceil(timeoutMs / 1000));
    // One request in flight: a burst of tasks must not stampede the token endpoint.
    this.token = new CachedToken({
      fetchToken: () => this.fetchToken(),
      renewBeforeExpiryMs: RENEW_BEFORE_EXPIRY_MS,
      now,
      abortError: () => new TransientError('SCIM request aborted'),
    });
  }

  get(signal: AbortSignal): Promise<BearerToken> {
    return this.token.get(signal);
  }

  invalidate(generation: number): void {
    this.token.invalidate(generation);
  }

  private async fetchToken(): Promise<GrantedToken> {
    const parameters: Record<string, string> = this.auth.scope ? { scope: this.auth.scope } : {};
    let response: Awaited<ReturnType<typeof oauth.clientCredentialsGrant>>;
    try {
      response = await oauth.clientCredentialsGrant(this.config, parameters);
    } catch (error) {
      throw tokenError(error, this.now());
    }
    const lifetimeMs = typeof response.expires_in === 'number' ? response.expires_in * 1000 : DEFAULT_TOKEN_LIFETIME_MS;
    return { value: response.access_token, lifetimeMs };
  }
}

/**
 * openid-client throws ResponseBodyError (an OAuth error body: `error` is a fixed code
 * such as `invalid_client`), WWWAuthenticateChallengeError (401 with a challenge),
 * ClientError with the Response as `cause` (any other non-200), or fetch's TypeError /
 * AbortError / TimeoutError when no answer came. Only the OAuth code and the status go
 * into the message; the error objects are not attached, so nothing of the request can
 * reach a log.
 */
function tokenError(error: unknown, nowMs: number): Error {
  const response = responseOf(error);
  if (response) {
    const code = (error as { error?: unknown }).error;
    const oauthCode = typeof code === 'string' && /^[a-z_]{1,60}$/.test(code) ? ` ${code}` : '';
    const message = `SCIM token request: HTTP ${response.status}${oauthCode}`;
    // The one OAuth error that means "try again later" even on a 4xx.
    if (oauthCode === ' temporarily_unavailable') return new TransientError(message);
    return errorForStatus(response.status, response.headers, message, nowMs);
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (error.name === 'TypeError' || error.name === 'AbortError' || error.name === 'TimeoutError') {
      return new TransientError(`SCIM token request: no answer (${error.name})`);
    }
    // An answer openid-client could not use (not JSON, no access_token): the endpoint is misconfigured.
    return new PermanentError(`SCIM token request: unusable answer (${typeof code === 'string' ? code : error.name})`);
  }
  return new TransientError('SCIM token request failed');
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
