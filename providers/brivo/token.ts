/**
 * Brivo access tokens from `POST {authUrl}/oauth/token` with the password grant: the
 * client's id and secret as HTTP Basic, the `api-key` header, and the administrator's
 * username and password as form fields (Brivo's documented flow; openid-client v6 has no
 * password grant helper, so this is a small fetch). One token is cached per provider
 * instance and shared by concurrent requests; an expired one is replaced by a new grant
 * rather than a refresh, which keeps one code path and costs one request per hour at most.
 */
import { TransientError } from '../../src/domain/errors.ts';
import type { BrivoConfig } from './config.ts';
import { describeBrivoError, errorForNetwork, errorForStatus } from './errors.ts';

/** Renew this long before expiry; short-lived tokens renew at half-life instead. */
const RENEW_BEFORE_EXPIRY_MS = 60_000;

export interface BrivoToken {
  /** Only ever placed in an Authorization header. */
  value: string;
  generation: number;
  /** True when this call fetched it: a 401 on a fresh token is not cured by another. */
  fresh: boolean;
}

export class BrivoTokenSource {
  private cached: { value: string; renewAt: number; generation: number } | null = null;
  private pending: Promise<{ value: string; renewAt: number; generation: number }> | null = null;
  private generation = 0;

  constructor(
    private readonly config: BrivoConfig,
    private readonly now: () => number = Date.now,
  ) {}

  async get(signal: AbortSignal): Promise<BrivoToken> {
    const cached = this.cached;
    if (cached && this.now() < cached.renewAt) return { value: cached.value, generation: cached.generation, fresh: false };
    // The shared request is not tied to one task's signal; each caller stops waiting on its own.
    this.pending ??= this.fetchToken().finally(() => {
      this.pending = null;
    });
    const token = await abortable(this.pending, signal);
    this.cached = token;
    return { value: token.value, generation: token.generation, fresh: true };
  }

  invalidate(generation: number): void {
    if (this.cached?.generation === generation) this.cached = null;
  }

  private async fetchToken(): Promise<{ value: string; renewAt: number; generation: number }> {
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
    const lifetimeMs = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : 60_000;
    const renewIn = lifetimeMs > 2 * RENEW_BEFORE_EXPIRY_MS ? lifetimeMs - RENEW_BEFORE_EXPIRY_MS : lifetimeMs / 2;
    this.generation += 1;
    return { value, renewAt: this.now() + renewIn, generation: this.generation };
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new TransientError('Brivo request aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new TransientError('Brivo request aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
