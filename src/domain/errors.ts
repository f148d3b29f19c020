/**
 * The error vocabulary that decides retries. The engine looks at the class only,
 * never at message text (see ARCHITECTURE.md, "typed errors").
 */

import type { JsonObject } from './types.ts';

export interface DeprovisionErrorOptions {
  cause?: unknown;
  /**
   * Progress made before this error (e.g. the first of two requests succeeded). When the
   * engine schedules a retry it stores this over the task's checkpoint, and the retry
   * receives it in `ctx.checkpoint`, so it need not repeat what already succeeded.
   */
  checkpoint?: JsonObject;
}

export abstract class DeprovisionError extends Error {
  abstract readonly kind: 'rate_limited' | 'transient' | 'permanent' | 'verification';
  /** Progress made before this error; the retry receives it in `ctx.checkpoint`. */
  declare readonly checkpoint: JsonObject | undefined;
  constructor(message: string, options?: DeprovisionErrorOptions) {
    super(message, options && 'cause' in options ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    // Only an own property when given, so errors without progress look exactly as before.
    if (options?.checkpoint) this.checkpoint = options.checkpoint;
  }
}

/** The provider asked us to slow down. `retryAfterMs` is honoured exactly. */
export class RateLimitedError extends DeprovisionError {
  readonly kind = 'rate_limited' as const;
  constructor(
    message: string,
    readonly retryAfterMs: number,
    options?: DeprovisionErrorOptions,
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
    options?: DeprovisionErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * The same error (class, message, retry delay, observed state, cause) carrying `checkpoint`
 * merged over any it already had: for an action that made progress before it failed.
 */
export function withCheckpoint<E extends DeprovisionError>(error: E, checkpoint: JsonObject): E {
  const copy = Object.create(Object.getPrototypeOf(error) as object) as E;
  Object.defineProperties(copy, Object.getOwnPropertyDescriptors(error));
  Object.defineProperty(copy, 'checkpoint', {
    value: { ...(error.checkpoint ?? {}), ...checkpoint },
    enumerable: true,
    writable: false,
    configurable: true,
  });
  return copy;
}

/** Anything thrown becomes an Error; unknown failures are treated as transient. */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value));
}

export function errorKind(error: Error): DeprovisionError['kind'] {
  return error instanceof DeprovisionError ? error.kind : 'transient';
}
