/**
 * Console sign-in sessions, held in this process's memory: a random id in an HttpOnly
 * cookie maps to the principal and a CSRF token. Nothing about the credential used to sign
 * in is kept. A restart signs everyone out; several replicas need sticky sessions.
 */
import { randomBytes } from 'node:crypto';
import type { Principal } from '../admin/principal.ts';
import { TokenSet } from '../server/tokens.ts';

export interface Session {
  principal: Principal;
  /** Sent back by the page in a header on every write; a cross-site form cannot know it. */
  csrf: string;
  expiresAt: number;
}

/** How long a session lasts without a new sign-in. Default 8h: one working day. */
export const SESSION_TTL_MS = 8 * 3_600_000;

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly now: () => Date,
    private readonly ttlMs = SESSION_TTL_MS,
  ) {}

  create(principal: Principal): { id: string; session: Session } {
    this.prune();
    const id = randomBytes(32).toString('base64url');
    const session = { principal, csrf: randomBytes(32).toString('base64url'), expiresAt: this.now().getTime() + this.ttlMs };
    this.sessions.set(id, session);
    return { id, session };
  }

  get(id: string | undefined): Session | null {
    if (!id) return null;
    const session = this.sessions.get(id);
    if (!session) return null;
    if (session.expiresAt <= this.now().getTime()) {
      this.sessions.delete(id);
      return null;
    }
    return session;
  }

  delete(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  private prune(): void {
    const now = this.now().getTime();
    for (const [id, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(id);
  }
}

/** Compares the page's CSRF header with the session's, in constant time. */
export function csrfMatches(session: Session, presented: string | undefined): boolean {
  return presented !== undefined && new TokenSet([{ token: session.csrf, principal: true }]).match(presented) === true;
}
