/**
 * Where the SCIM client's bearer token comes from: a static token from config, or the
 * OAuth 2.0 client-credentials grant (providers/http/client-credentials.ts).
 */
import { staticBearerToken, type BearerTokens } from '../http/bearer.ts';
import { clientCredentialsToken } from '../http/client-credentials.ts';
import type { ScimAuthConfig } from './config.ts';
import { SCIM_HTTP_FACTS } from './errors.ts';

/** Renew this long before expiry so that no request leaves with a token about to lapse. */
const RENEW_BEFORE_EXPIRY_MS = 60_000;
/** Used when the token endpoint does not say how long its token lives. */
const DEFAULT_TOKEN_LIFETIME_MS = 5 * 60_000;

export function createTokenSource(auth: ScimAuthConfig, timeoutMs: number, now: () => number = Date.now): BearerTokens {
  if ('bearerToken' in auth) return staticBearerToken(auth.bearerToken);
  return clientCredentialsToken({
    ...auth,
    summary: 'SCIM token request',
    facts: SCIM_HTTP_FACTS,
    timeoutMs,
    renewBeforeExpiryMs: RENEW_BEFORE_EXPIRY_MS,
    defaultLifetimeMs: DEFAULT_TOKEN_LIFETIME_MS,
    now,
  });
}
