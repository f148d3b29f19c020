/**
 * Client-credentials tokens from the Microsoft identity platform (v2.0 endpoint,
 * `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`), through the shared
 * grant (providers/http/client-credentials.ts). One token is cached per provider instance
 * and shared by concurrent requests.
 */
import { clientCredentialsToken } from '../http/client-credentials.ts';
import type { CachedToken } from '../http/cached-token.ts';
import { GRAPH_HTTP_FACTS } from './errors.ts';

/**
 * Renew this long before `expires_in` runs out, so a request never leaves with a token
 * that expires on the way (tokens live 60-90 minutes; clocks drift).
 */
const RENEW_BEFORE_EXPIRY_MS = 5 * 60_000;
/** The identity platform always says `expires_in`; this is only a floor for an answer without it. */
const DEFAULT_TOKEN_LIFETIME_MS = 5 * 60_000;

export interface TokenSourceOptions {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  scope: string;
  /** A token request that hangs longer than this fails as transient. */
  timeoutMs: number;
  now?: () => number;
}

export type GraphTokens = CachedToken;

export function graphTokens(options: TokenSourceOptions): GraphTokens {
  return clientCredentialsToken({
    ...options,
    summary: `Microsoft identity platform token request to ${new URL(options.tokenUrl).origin}`,
    facts: GRAPH_HTTP_FACTS,
    renewBeforeExpiryMs: RENEW_BEFORE_EXPIRY_MS,
    defaultLifetimeMs: DEFAULT_TOKEN_LIFETIME_MS,
    describeError: aadstsCode,
    now: options.now ?? Date.now,
  });
}

/**
 * The identity platform answers `{ error, error_description, error_codes }`. Only the
 * AADSTS number joins the OAuth code in a message: the description echoes request details
 * and is not needed to act (AADSTS7000215 = wrong secret, 700016 = unknown client id,
 * 90002 = unknown tenant).
 */
function aadstsCode(body: Record<string, unknown>): string {
  const first: unknown = Array.isArray(body.error_codes) ? body.error_codes[0] : undefined;
  return typeof first === 'number' ? ` AADSTS${first}` : '';
}
