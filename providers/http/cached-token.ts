/**
 * An OAuth access token cached per provider instance and shared by concurrent requests:
 * one request to the token endpoint in flight at a time (a burst of tasks must not
 * stampede it), renewal a little before expiry, and a generation number so that a 401
 * forgets only the token it was answered to. How the token is fetched is the provider's.
 */
import { abortable } from '../../src/domain/abortable.ts';

export interface IssuedToken {
  /** Only ever placed in an Authorization header. */
  value: string;
  /** Identifies this token for `invalidate` without handing the value around. */
  generation: number;
  /** True when this call fetched it: a 401 on a fresh token is not cured by another. */
  fresh: boolean;
}

/** What the token endpoint granted. */
export interface GrantedToken {
  value: string;
  lifetimeMs: number;
}

export interface CachedTokenOptions {
  /** One request to the token endpoint; its errors reach every caller waiting on it. */
  fetchToken: () => Promise<GrantedToken>;
  /** Renew this long before expiry; a token living less than twice this renews at half-life. */
  renewBeforeExpiryMs: number;
  now: () => number;
  /** What a caller whose signal aborts while waiting rejects with (default: the signal's reason). */
  abortError?: () => Error;
}

interface Cached {
  value: string;
  renewAt: number;
  generation: number;
}

export class CachedToken {
  /** A granted token that expired or was revoked is cured by another grant (BearerTokens). */
  readonly renewable = true;
  private cached: Cached | null = null;
  private pending: Promise<Cached> | null = null;
  private generation = 0;

  constructor(private readonly options: CachedTokenOptions) {}

  /** Without a signal the caller waits for the token request to settle. */
  async get(signal?: AbortSignal): Promise<IssuedToken> {
    const cached = this.cached;
    if (cached && this.options.now() < cached.renewAt) return { value: cached.value, generation: cached.generation, fresh: false };
    // The shared request is not tied to one task's signal; each caller stops waiting on its own.
    const pending = (this.pending ??= this.fetch().finally(() => {
      this.pending = null;
    }));
    const token = signal ? await abortable(signal, () => pending, this.options.abortError) : await pending;
    this.cached = token;
    return { value: token.value, generation: token.generation, fresh: true };
  }

  /** The target refused the token (401): forget it so the next call fetches another. */
  invalidate(generation: number): void {
    if (this.cached?.generation === generation) this.cached = null;
  }

  private async fetch(): Promise<Cached> {
    const { value, lifetimeMs } = await this.options.fetchToken();
    const { renewBeforeExpiryMs } = this.options;
    const renewIn = lifetimeMs > 2 * renewBeforeExpiryMs ? lifetimeMs - renewBeforeExpiryMs : lifetimeMs / 2;
    this.generation += 1;
    return { value, renewAt: this.options.now() + renewIn, generation: this.generation };
  }
}
