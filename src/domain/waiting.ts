/**
 * What a pending task waits for, in words: the `waitingFor` text an adapter puts in the
 * checkpoint of an `inProgress` answer (providers/contract.ts), e.g. Stripe's "overdue: 2
 * invoices open, amount due 120.00 EUR since 2026-11-02". The console, the CLI and the
 * evidence show it beside the task, so a step that waits (for money, for a transfer) is
 * visible as waiting rather than silently pending.
 */
import type { JsonObject } from './types.ts';

/** Longest text shown: the checkpoint is the adapter's, the screen is the operator's. */
export const WAITING_FOR_MAX = 300;

export function waitingFor(checkpoint: JsonObject | null | undefined): string | null {
  const text = checkpoint && Object.hasOwn(checkpoint, 'waitingFor') ? checkpoint.waitingFor : null;
  if (typeof text !== 'string') return null;
  const clean = text.replace(/\s+/g, ' ').trim();
  if (clean === '') return null;
  return clean.length > WAITING_FOR_MAX ? `${clean.slice(0, WAITING_FOR_MAX)}…` : clean;
}
