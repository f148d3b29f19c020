/**
 * Client-credentials tokens from the Microsoft identity platform (v2.0 endpoint), with
 * a small fetch instead of @azure/identity (not a dependency here). One token is cached
 * per provider instance and shared by concurrent requests.
 */
import { TransientError, type DeprovisionError } from '../contract.ts';
import { CachedToken, type GrantedToken, type IssuedToken } from '../http/cached-token.ts';
import { errorForNetwork, errorForStatus } from './errors.ts';

/**
 * Renew this long before `expires_in` runs out, so a request never leaves with a token
 * that expires on the way (tokens live 60-90 minutes; clocks drift).
 */
const RENEW_BEFORE_EXPIRY_MS = 5 * 60_000;
/** A token request that hangs longer than this fails as transient. */
const TOKEN_TIMEOUT_MS = 30_000;

export interface TokenSourceOptions {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  scope: string;
  now?: () => number;
}

export class ClientCredentialsTokenSource {
  private readonly token: CachedToken;
  private readonly now: () => number;

  constructor(private readonly options: TokenSourceOptions) {
    this.now = options.now ?? Date.now;
    this.token = new CachedToken({ fetchToken: () => this.fetchToken(), renewBeforeExpiryMs: RENEW_BEFORE_EXPIRY_MS, now: this.now });
  }

  get(): Promise<IssuedToken> {
    return this.token.get();
  }

  /** Graph refused the token (401): forget it so the next request fetches another. */
  invalidate(generation: number): void {
    this.token.invalidate(generation);
  }

  private async fetchToken(): Promise<GrantedToken> {
    const summary = `Microsoft identity platform token request to ${new URL(this.options.tokenUrl).origin}`;
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: this.options.clientId,
      client_secret: this.options.clientSecret,
      scope: this.options.scope,
    });
    let response: Response;
    try {
      response = await fetch(this.options.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
      });
    } catch (error) {
      throw errorForNetwork(error, summary);
    }
    const payload = (await response.json().catch(() => null)) as Record<string, unknown> | null;
    if (!response.ok) throw tokenError(response, payload, summary, this.now());
    const value = payload?.access_token;
    const expiresIn = Number(payload?.expires_in);
    if (typeof value !== 'string' || value === '' || !Number.isFinite(expiresIn)) {
      throw new TransientError(`${summary}: answer without access_token/expires_in`);
    }
    return { value, lifetimeMs: expiresIn * 1000 };
  }
}

/**
 * The identity platform answers `{ error, error_description, error_codes }`. Only the
 * OAuth error code and the AADSTS number go into the message: the description echoes
 * request details and is not needed to act (AADSTS7000215 = wrong secret, 700016 =
 * unknown client id, 90002 = unknown tenant).
 */
function tokenError(
  response: Response,
  payload: Record<string, unknown> | null,
  summary: string,
  nowMs: number,
): DeprovisionError {
  const code = typeof payload?.error === 'string' ? payload.error : 'unknown_error';
  const aadsts = Array.isArray(payload?.error_codes) ? ` AADSTS${String(payload.error_codes[0])}` : '';
  const message = `${summary} answered ${response.status} ${code}${aadsts}`;
  // The one OAuth error that says "try again later" even though it may come with a 4xx.
  if (code === 'temporarily_unavailable') return new TransientError(message);
  // invalid_client (wrong secret), unauthorized_client, unknown tenant: 400/401, permanent.
  return errorForStatus(response.status, response.headers, message, nowMs);
}
