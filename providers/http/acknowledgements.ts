/**
 * Receivers of pushed messages (webhooks, Security Event Tokens) answer 2xx and offer no
 * read API, so a push's `verify` reports the acknowledgement its `execute` received in the
 * same attempt. An attempt stopped between the two (deadline, shutdown) never takes its
 * entry, so only the newest are kept; such an attempt's retry pushes again.
 */
import type { ProviderHttpFacts } from './errors.ts';

/** Slack and most receivers ask for a pause without saying how long: a second is the usual answer. */
export const PUSH_RECEIVER_HTTP_FACTS: ProviderHttpFacts = { defaultRetryAfterMs: 1000 };
export class Acknowledgements<T> {
  private readonly entries = new Map<string, T>();

  /** maxEntries: far more than the attempts in flight at once (a few dozen per provider). */
  constructor(private readonly maxEntries = 10_000) {}

  record(key: string, ack: T): void {
    // Insertion order is age order: re-inserting makes this entry the newest.
    this.entries.delete(key);
    this.entries.set(key, ack);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** The acknowledgement recorded under key, removed: each is reported once. */
  take(key: string): T | undefined {
    const ack = this.entries.get(key);
    this.entries.delete(key);
    return ack;
  }
}
