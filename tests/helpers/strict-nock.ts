/**
 * The nock discipline of the request-level adapter tests: net connect is off for the
 * file, and after each test every interceptor must have been used (checked after they
 * are cleaned, so one test's leftovers never fail the next).
 */
import nock from 'nock';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';

export function strictNock(): void {
  beforeAll(() => {
    nock.disableNetConnect();
  });
  afterEach(() => {
    const pending = nock.pendingMocks();
    nock.cleanAll();
    expect(pending, 'every expected request was sent').toEqual([]);
  });
  afterAll(() => {
    nock.enableNetConnect();
    nock.restore();
  });
}
