/**
 * Brivo access tokens from `POST {authUrl}/oauth/token` with the password grant: the
 * client's id and secret as HTTP Basic, the `api-key` header, and the administrator's
 * username and password as form fields (Brivo's documented flow; openid-client v6 has no
 * password grant helper, so this is a small fetch). One token is cached per provider
 * instance and shared by concurrent requests; an expired one is replaced by a new grant
 * rather than a refresh, which keeps one code path and costs one request per hour at most.
 */
import { TransientError } from '../contract.ts';
import { CachedToken, type GrantedToken, type IssuedToken } from '../http/cached-token.ts';
import type { BrivoConfig } from './config.ts';
import { describeBrivoError, errorForNetwork, errorForStatus } from './errors.ts';

/** Renew this long before expiry; short-lived tokens renew at half-life instead. */
const RENEW_BEFORE_EXPIRY_MS = 60_000;

export type BrivoToken = IssuedToken;

export class BrivoTokenSource {
  /** An expired or revoked Brivo token is cured by a new grant. */
  readonly renewable = true;
  private readonly token: CachedToken;

  constructor(
    private readonly config: BrivoConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.token = new CachedToken({
      fetchToken: () => this.fetchToken(),
      renewBeforeExpiryMs: RENEW_BEFORE_EXPIRY_MS,
      now,
      abortError: () => new TransientError('Brivo request aborted'),
    });
  }

  get(signal: AbortSignal): Promise<BrivoToken> {
    return this.token.get(signal);
  }

  invalidate(generation: number): void {
    this.token.invalidate(generation);
  }

  private async fetchToken(): Promise<GrantedToken> {
    const { clientId, clientSecret, apiKey, username, password, authUrl, requestTimeoutMs } = this.config;
    let response: Response;
    try {
      response = await fetch(`${authUrl}/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
          'api-key': apiKey,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams({ grant_type: 'password', username, password }),
        signal: AbortSignal.timeout(requestTimeoutMs),
        redirect: 'error',
      });
    } catch (error) {
      throw errorForNetwork(error, 'token request');
    }
    const payload = (await response.json().catch(() => null)) as Record<string, unknown> | null;
    if (!response.ok) {
      // invalid_grant (wrong admin password), invalid_client, Developer Inactive (api-key): permanent.
      const message = `Brivo token request: HTTP ${response.status}${describeBrivoError(response.headers, payload)}`;
      throw errorForStatus(response.status, response.headers, message, this.now());
    }
    const value = payload?.access_token;
    const expiresIn = Number(payload?.expires_in);
    if (typeof value !== 'string' || value === '') throw new TransientError('Brivo token request: answer without access_token');
    return { value, lifetimeMs: Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : 60_000 };
  }
}
