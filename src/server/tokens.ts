/**
 * Bearer token matching in constant time: both sides are hashed to a fixed length first,
 * so neither the content nor the length of a configured token leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

export class TokenSet<P> {
  private readonly entries: Array<{ digest: Buffer; principal: P }>;

  constructor(entries: Array<{ token: string; principal: P }>) {
    this.entries = entries.map((e) => ({ digest: digest(e.token), principal: e.principal }));
  }

  get size(): number {
    return this.entries.length;
  }

  /** Compares against every configured token (no early exit) and returns the match, if any. */
  match(presented: string): P | null {
    const candidate = digest(presented);
    let found: P | null = null;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, candidate) && found === null) found = entry.principal;
    }
    return found;
  }
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}
