/**
 * One account look-up per provider and termination at a time. A termination's tasks at one
 * provider start together (revoke sessions, disable the account), and each used to look
 * the subject up on its own: the same read, with the same answer, against the provider's
 * rate limit.
 * A look-up in flight is shared; an account found is kept for a short while for the
 * termination's later tasks. "No account" and failures are not kept: the next attempt asks
 * the provider again.
 */
import type { AccountRef, ActionContext, Provider } from '../../providers/contract.ts';
import type { Termination } from '../domain/types.ts';

interface Entry {
  promise: Promise<AccountRef | null>;
  /** When the account was found; null while the look-up is in flight. */
  foundAt: number | null;
}

export class SharedResolves {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly keepMs = 60_000,
    private readonly maxEntries = 10_000,
    private readonly clock: () => number = Date.now,
  ) {}

  async resolve(provider: Provider, termination: Termination, ctx: ActionContext): Promise<AccountRef | null> {
    this.evict();
    const key = `${provider.name}\u0000${termination.id}`;
    const shared = this.entries.get(key);
    if (shared) {
      try {
        return await shared.promise;
      } catch (error) {
        // The other attempt's look-up failed, perhaps by its own deadline: ask for this one.
        if (ctx.signal.aborted) throw error;
        return provider.resolve(termination.subject, ctx);
      }
    }
    const entry: Entry = { promise: provider.resolve(termination.subject, ctx), foundAt: null };
    this.entries.set(key, entry);
    const forget = () => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    };
    entry.promise.then((account) => (account ? (entry.foundAt = this.clock()) : forget()), forget);
    return entry.promise;
  }

  private evict(): void {
    const now = this.clock();
    // Insertion order is the order look-ups started, so the oldest come first.
    for (const [key, entry] of this.entries) {
      const expired = entry.foundAt !== null && now - entry.foundAt >= this.keepMs;
      if (!expired && this.entries.size <= this.maxEntries) break;
      this.entries.delete(key);
    }
  }
}
