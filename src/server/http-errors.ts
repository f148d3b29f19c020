/**
 * The HTTP error vocabulary of the JSON APIs (webhooks, admin): one class per answer,
 * and one middleware that turns them into `{error, details?}`. Handlers throw; the
 * status is the class's, never read from message text.
 */
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { coerceError } from '../domain/errors.ts';
import { isStoreOutage } from '../store/outage.ts';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class BadRequestError extends HttpError {
  constructor(message: string, details?: unknown) {
    super(400, message, details);
  }
}

export class UnauthorizedError extends HttpError {
  constructor(message = 'unauthorized') {
    super(401, message);
  }
}

export class ForbiddenError extends HttpError {
  constructor(message: string) {
    super(403, message);
  }
}

export class NotFoundError extends HttpError {
  constructor(message: string) {
    super(404, message);
  }
}

export class ConflictError extends HttpError {
  constructor(message: string, details?: unknown) {
    super(409, message, details);
  }
}

/** The store (or another dependency we cannot answer without) is unavailable: retry later. */
export class UnavailableError extends HttpError {
  constructor(message: string, cause: unknown) {
    super(503, message, undefined, { cause });
  }
}

/** `subject.emails[0]`: the field a zod issue is about, as a reader would write it. */
export function fieldPath(path: readonly PropertyKey[], root = 'body'): string {
  if (path.length === 0) return root;
  return path.reduce<string>(
    (acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)),
    '',
  );
}

/** A 400 whose message names the first offending field; every issue is in `details`. */
export function invalidInput(error: z.ZodError, root = 'body'): BadRequestError {
  const issues = error.issues.map((i) => ({ field: fieldPath(i.path, root), message: i.message }));
  const first = issues[0] ?? { field: root, message: 'invalid' };
  return new BadRequestError(`${first.field}: ${first.message}`, issues);
}

/** Seconds a client is told to wait after a 503. */
export const RETRY_AFTER_SECONDS = '5';

/**
 * What a failed store call is answered with: a store outage (src/store/outage.ts decides,
 * by driver codes) becomes a 503 so it is never mistaken for "not found"; anything else is
 * returned unchanged and answered as what it is (a bug is a 500, logged).
 */
export function storeFailure(error: unknown): unknown {
  return isStoreOutage(error) ? new UnavailableError('store unavailable, retry later', error) : error;
}

/** Runs a store call; its failure is answered as `storeFailure` says. */
export async function fromStore<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw storeFailure(error);
  }
}

/**
 * Logs a server error under a new request id and returns the id, which the answer carries:
 * the caller learns nothing of the cause, and the operator finds it from the id they quote.
 */
export function logServerError(logger: Logger, error: unknown, context: Record<string, unknown>, message: string): string {
  const requestId = randomUUID();
  logger.error({ err: coerceError(error), requestId, ...context }, message);
  return requestId;
}

/**
 * Error middleware for a JSON router. Body-parser errors (413, bad JSON) carry a status
 * and are answered without echoing the body; anything unexpected is a 500, logged.
 */
export function jsonErrors(logger: Logger, challenge?: string) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    let status: number;
    let body: { error: string; details?: unknown; requestId?: string };
    if (error instanceof HttpError) {
      status = error.status;
      body = error.details === undefined ? { error: error.message } : { error: error.message, details: error.details };
    } else {
      // Anything can be thrown, null and undefined included.
      const thrown = error as { type?: unknown; status?: unknown } | null | undefined;
      const type = thrown?.type;
      const raw = thrown?.status;
      status = typeof raw === 'number' && raw >= 400 && raw < 500 ? raw : 500;
      body = {
        error:
          type === 'entity.too.large'
            ? 'request body too large'
            : type === 'entity.parse.failed'
              ? 'body: invalid JSON'
              : status < 500
                ? 'bad request'
                : 'internal error',
      };
    }
    if (status >= 500) {
      // The cause is logged for operators; the client only learns the class of failure and the id to quote.
      const cause = error instanceof HttpError && error.cause !== undefined ? error.cause : error;
      const requestId = logServerError(logger, cause, { method: req.method, path: req.path, status }, 'request failed');
      if (status !== 503) body.requestId = requestId;
    }
    if (status === 401 && challenge) res.set('WWW-Authenticate', challenge);
    if (status === 503) res.set('Retry-After', RETRY_AFTER_SECONDS);
    res.status(status).json(body);
  };
}
