/**
 * A hash of a request body as the daemon understood it, so "the same body" means the same
 * request however it was written: keys sorted at every level, instants as ISO 8601 UTC
 * (`+00:00` and `Z` are one time), absent and undefined fields alike. Used to tell a true
 * repeat of an Idempotency-Key from the same key sent with another request.
 */
import { createHash } from 'node:crypto';

function canonical(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, canonical(v)]));
  }
  return value;
}

export function canonicalSha256(body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(canonical(body)))
    .digest('hex');
}
