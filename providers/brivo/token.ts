/**
 * Brivo access tokens from `POST {authUrl}/oauth/token` with the password grant: the
 * client's id and secret as HTTP Basic, the `api-key` header, and the administrator's
 * username and password as form fields (Brivo's documented flow; openid-client v6 has no
 * password grant helper, so this is one request through the shared `fetchOnce`). The token
 * is cached per provider instance and shared by concurrent requests (`CachedToken`); an
 * expired one is replaced by a new grant rather than a refresh, which keeps one code path
 * and costs one request per hour at most.
 */
import { TransientError } from '../contract.ts';
import { readJsonBody } from '../http/bearer.ts';
import { CachedToken, type GrantedToken } from '../http/cached-token.ts';
import { errorForStatus, refusalMessage } from '../http/errors.ts';
import { fetchOnce, noThrottle } from '../http/request.ts';
import type { BrivoConfig } from './config.ts';
import { BRIVO_HTTP_FACTS } from './errors.ts';

/** Renew this long before expiry; short-lived tokens renew at half-life instead. */
const RENEW_BEFORE_EXPIRY_MS = 60_000;
/** Used when the token endpoint does not say how long its token lives. */
const DEFAULT_TOKEN_LIFETIME_MS = 60_000;

export function brivoTokens(config: BrivoConfig, now: () => number = Date.now): CachedToken {
  return new CachedToken({
    fetchToken: () => fetchToken(config, now),
    renewBeforeExpiryMs: RENEW_BEFORE_EXPIRY_MS,
    now,
    abortError: () => new TransientError('Brivo token request aborted: the attempt was stopped'),
  });
}

async function fetchToken(config: BrivoConfig, now: () => number): Promise<GrantedToken> {
  const { clientId, clientSecret, apiKey, username, password, authUrl, requestTimeoutMs } = config;
  const response = await fetchOnce(`${authUrl}/oauth/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
      'api-key': apiKey,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
    // Shared by every caller waiting on it, so no one task's signal stops it; the timeout does.
    signal: new AbortController().signal,
    timeoutMs: requestTimeoutMs,
    // The token endpoint is not the API whose rate the throttle spends.
    throttle: noThrottle,
    summary: 'Brivo token request',
  });
  const payload = (await readJsonBody(response)) as Record<string, unknown> | null;
  if (!response.ok) {
    // invalid_grant (wrong admin password), invalid_client, Developer Inactive (api-key): permanent.
    const answer = { status: response.status, headers: response.headers, body: payload };
    throw errorForStatus(answer, refusalMessage('Brivo token request', answer, BRIVO_HTTP_FACTS), BRIVO_HTTP_FACTS, now());
  }
  const value = payload?.access_token;
  const expiresIn = Number(payload?.expires_in);
  if (typeof value !== 'string' || value === '') throw new TransientError('Brivo token request: answer without access_token');
  return { value, lifetimeMs: Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : DEFAULT_TOKEN_LIFETIME_MS };
}
