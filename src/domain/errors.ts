/**
 * The error vocabulary that decides retries. The engine looks at the class only,
 * never at message text (see ARCHITECTURE.md, "typed errors").
 */

export abstract class DeprovisionError extends Error {
  abstract readonly kind: 'rate_limited' | 'transient' | 'permanent' | 'verification';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The provider asked us to slow down. `retryAfterMs` is honoured exactly. */
export class RateLimitedError extends DeprovisionError {
  readonly kind = 'rate_limited' as const;
  constructor(
    message: string,
    readonly retryAfterMs: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** 5xx, network failure, timeout: worth another attempt with backoff. */
export class TransientError extends DeprovisionError {
  readonly kind = 'transient' as const;
}

/** Bad credentials, missing permission, invalid request: retrying will not help. */
export class PermanentError extends DeprovisionError {
  readonly kind = 'permanent' as const;
}

/** The provider answered the write, but reading the state back disagrees. */
export class VerificationError extends DeprovisionError {
  readonly kind = 'verification' as const;
  constructor(
    message: string,
    readonly observed: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Anything thrown becomes an Error; unknown failures are treated as transient. */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value));
}

export function errorKind(error: Error): DeprovisionError['kind'] {
  return error instanceof DeprovisionError ? error.kind : 'transient';
}
