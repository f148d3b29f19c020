/**
 * The shared HTTP layer of the adapters (providers/http/): one status -> typed-error
 * mapping fed by each provider's facts, and one request path (throttle, the attempt's
 * signal, a per-request timeout). The adapters' own suites check the same answers end to
 * end; this one pins each provider's rate-limit signal and the no-answer cases in one place.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_QPS_DELAY_MS, DEFAULT_QUOTA_DELAY_MS, BRIVO_HTTP_FACTS } from '../providers/brivo/errors.ts';
import { toProviderError } from '../providers/google/errors.ts';
import { errorForStatus, type ProviderHttpFacts } from '../providers/http/errors.ts';
import { fetchOnce, noThrottle } from '../providers/http/request.ts';
import { DEFAULT_RATE_LIMIT_RETRY_AFTER_MS, GRAPH_HTTP_FACTS } from '../providers/microsoft/errors.ts';
import { DEFAULT_RATE_LIMIT_DELAY_MS as OKTA_DEFAULT_MS, OKTA_HTTP_FACTS } from '../providers/okta/errors.ts';
import { DEFAULT_RATE_LIMIT_DELAY_MS as SCIM_DEFAULT_MS, SCIM_HTTP_FACTS } from '../providers/scim/errors.ts';
import { PermanentError, RateLimitedError, TransientError } from '../src/domain/errors.ts';

/** A full garbage collection on demand, without starting the worker with --expose-gc. */
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const NOW = Date.parse('2026-05-01T10:00:00Z');

function answer(status: number, headers: Record<string, string> = {}, body?: unknown) {
  return { status, headers: new Headers(headers), body };
}

function delayOf(error: Error): number {
  if (!(error instanceof RateLimitedError)) expect.fail(`expected a RateLimitedError, got ${error.name}: ${error.message}`);
  return error.retryAfterMs;
}

describe('errorForStatus: the rules every provider shares', () => {
  const facts: ProviderHttpFacts = { defaultRetryAfterMs: 1234 };

  it('429 waits the Retry-After (seconds or an HTTP date), else the default', () => {
    expect(delayOf(errorForStatus(answer(429, { 'retry-after': '7' }), 'm', facts, NOW))).toBe(7000);
    expect(delayOf(errorForStatus(answer(429, { 'retry-after': new Date(NOW + 5000).toUTCString() }), 'm', facts, NOW))).toBe(5000);
    expect(delayOf(errorForStatus(answer(429, { 'retry-after': 'soon' }), 'm', facts, NOW))).toBe(1234);
    expect(delayOf(errorForStatus(answer(429), 'm', facts, NOW))).toBe(1234);
  });

  it('503 with Retry-After is a pause; other 5xx and 408 are transient; 4xx are permanent', () => {
    expect(delayOf(errorForStatus(answer(503, { 'retry-after': '2' }), 'm', facts, NOW))).toBe(2000);
    for (const status of [500, 502, 503, 504, 408])
      expect(errorForStatus(answer(status), 'm', facts, NOW), String(status)).toBeInstanceOf(TransientError);
    for (const status of [400, 401, 403, 404, 409, 422])
      expect(errorForStatus(answer(status), 'm', facts, NOW), String(status)).toBeInstanceOf(PermanentError);
  });

  it('keeps the message it is given, and nothing else', () => {
    const error = errorForStatus(answer(403, { authorization: 'Bearer secret-token' }), 'SCIM get User: HTTP 403', facts, NOW);
    expect(error.message).toBe('SCIM get User: HTTP 403');
    expect(JSON.stringify(error)).not.toContain('secret-token');
  });
});

describe("each provider's rate-limit facts", () => {
  it('Okta: X-Rate-Limit-Reset (epoch seconds) decides, not Retry-After; a minute without it', () => {
    const reset = String((NOW + 42_000) / 1000);
    expect(delayOf(errorForStatus(answer(429, { 'x-rate-limit-reset': reset, 'retry-after': '1' }), 'm', OKTA_HTTP_FACTS, NOW))).toBe(
      42_000,
    );
    expect(delayOf(errorForStatus(answer(429, { 'x-rate-limit-reset': String((NOW - 5000) / 1000) }), 'm', OKTA_HTTP_FACTS, NOW))).toBe(0);
    expect(delayOf(errorForStatus(answer(429), 'm', OKTA_HTTP_FACTS, NOW))).toBe(OKTA_DEFAULT_MS);
    expect(OKTA_DEFAULT_MS).toBe(60_000);
  });

  it("Brivo: Mashery's 403 over-QPS and over-rate codes are rate limits, other 403s and 596 are permanent", () => {
    const qps = { 'x-mashery-error-code': 'ERR_403_DEVELOPER_OVER_QPS' };
    const rate = { 'x-mashery-error-code': 'ERR_403_DEVELOPER_OVER_RATE' };
    expect(delayOf(errorForStatus(answer(403, qps), 'm', BRIVO_HTTP_FACTS, NOW))).toBe(DEFAULT_QPS_DELAY_MS);
    expect(delayOf(errorForStatus(answer(403, rate), 'm', BRIVO_HTTP_FACTS, NOW))).toBe(DEFAULT_QUOTA_DELAY_MS);
    expect(delayOf(errorForStatus(answer(403, { ...rate, 'retry-after': '90' }), 'm', BRIVO_HTTP_FACTS, NOW))).toBe(90_000);
    expect(delayOf(errorForStatus(answer(429), 'm', BRIVO_HTTP_FACTS, NOW))).toBe(DEFAULT_QPS_DELAY_MS);
    expect(
      errorForStatus(answer(403, { 'x-mashery-error-code': 'ERR_403_DEVELOPER_INACTIVE' }), 'm', BRIVO_HTTP_FACTS, NOW),
    ).toBeInstanceOf(PermanentError);
    expect(errorForStatus(answer(596), 'm', BRIVO_HTTP_FACTS, NOW)).toBeInstanceOf(PermanentError);
    expect(BRIVO_HTTP_FACTS.describe!(answer(403, { 'x-mashery-error-code': 'ERR_403_DEVELOPER_INACTIVE' }))).toBe(
      ' ERR_403_DEVELOPER_INACTIVE',
    );
  });

  it("Google: a 403 with a quota reason is a rate limit with the instance's delay; a 403 without one is permanent", () => {
    const gaxios = (status: number, reason: string, headers: Record<string, string> = {}) =>
      Object.assign(new Error('request failed'), {
        config: {},
        response: { status, headers, data: { error: { message: 'x', errors: [{ reason }] } } },
      });
    expect(delayOf(toProviderError(gaxios(403, 'quotaExceeded'), 'users.get', { rateLimitDelayMs: 2500 }))).toBe(2500);
    expect(
      delayOf(toProviderError(gaxios(403, 'userRateLimitExceeded', { 'retry-after': '7' }), 'users.get', { rateLimitDelayMs: 2500 })),
    ).toBe(7000);
    expect(delayOf(toProviderError(gaxios(429, 'rateLimitExceeded'), 'users.get', { rateLimitDelayMs: 2500 }))).toBe(2500);
    expect(toProviderError(gaxios(403, 'forbidden'), 'users.get', { rateLimitDelayMs: 2500 })).toBeInstanceOf(PermanentError);
  });

  it('Graph and SCIM: Retry-After, else their own default', () => {
    expect(delayOf(errorForStatus(answer(429), 'm', GRAPH_HTTP_FACTS, NOW))).toBe(DEFAULT_RATE_LIMIT_RETRY_AFTER_MS);
    expect(delayOf(errorForStatus(answer(429), 'm', SCIM_HTTP_FACTS, NOW))).toBe(SCIM_DEFAULT_MS);
    expect(delayOf(errorForStatus(answer(429, { 'retry-after': '3' }), 'm', SCIM_HTTP_FACTS, NOW))).toBe(3000);
  });
});

describe('fetchOnce: the one request path of the fetch-based clients', () => {
  let server: Server;
  let url: string;
  let received = 0;

  beforeAll(async () => {
    // Counts requests and never answers: every request ends by a timeout or an abort.
    server = createServer(() => {
      received += 1;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const send = (signal: AbortSignal, throttle = noThrottle) =>
    fetchOnce(url, { method: 'GET', headers: {}, signal, timeoutMs: 100, throttle, summary: 'Test get' }).then(
      () => new Error('the silent server answered'),
      (e: unknown) => e as Error,
    );

  it('the per-request timeout is a TransientError saying no answer came, even after a garbage collection', async () => {
    const attempt = new AbortController();
    const pending = send(attempt.signal);
    // Node 20 holds AbortSignal.timeout's signal weakly, and AbortSignal.any its sources: a
    // collection while the request waits used to drop the timeout (the request then hung).
    await new Promise((resolve) => setTimeout(resolve, 20));
    collectGarbage();
    const error = await pending;
    expect(attempt.signal.aborted).toBe(false);
    expect(error).toBeInstanceOf(TransientError);
    expect(error.message).toBe('Test get: no answer (TimeoutError)');
  });

  it('the engine stopping the attempt is said as such, not taken for the provider failing to answer', async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('shutdown')), 20);
    const error = await send(stop.signal);
    expect(error).toBeInstanceOf(TransientError);
    expect(error.message).toBe('Test get: stopped, the attempt was aborted (shutdown or its deadline)');
  });

  it('an engine error as the abort reason (the lease lost) is the answer as it is', async () => {
    const stop = new AbortController();
    const lost = new TransientError('the task was taken over by another worker: attempt stopped');
    setTimeout(() => stop.abort(lost), 20);
    expect(await send(stop.signal)).toBe(lost);
  });

  it('waits for the throttle first; a throttle that refuses (the lease fence) sends nothing', async () => {
    const before = received;
    const fence = new TransientError('lease ending: request not sent');
    expect(await send(new AbortController().signal, async () => Promise.reject(fence))).toBe(fence);
    expect(received).toBe(before);
  });
});
