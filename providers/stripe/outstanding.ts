/**
 * Money a customer still owes, read from their invoices, and the sentence an operator sees
 * beside a settle_billing step that waits for it ("overdue: 2 invoices open, amount due
 * 120.00 EUR since 2026-11-02"). Pure: no request here.
 */
import type { StripeInvoice } from './client.ts';

/**
 * Invoice statuses that mean money is owed: `open` (finalized, unpaid), `draft` (not yet
 * finalized: it will be, with the amount on it) and `uncollectible` (written off at Stripe,
 * still unpaid). `paid` and `void` owe nothing.
 */
export const OUTSTANDING_STATUSES = ['open', 'draft', 'uncollectible'] as const;

/** Currencies without minor units, and those with three, as Stripe lists them; the rest have two. */
const ZERO_DECIMAL = new Set([
  'bif',
  'clp',
  'djf',
  'gnf',
  'jpy',
  'kmf',
  'krw',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vnd',
  'vuv',
  'xaf',
  'xof',
  'xpf',
]);
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

/** `12000`, `eur` -> `120.00 EUR`. */
export function formatAmount(minor: number, currency: string): string {
  const digits = ZERO_DECIMAL.has(currency) ? 0 : THREE_DECIMAL.has(currency) ? 3 : 2;
  const code = /^[a-z]{3}$/.test(currency) ? currency.toUpperCase() : '???';
  return `${(minor / 10 ** digits).toFixed(digits)} ${code}`;
}

// A type alias: it goes into evidence and checkpoints (JsonObject).
export type Outstanding = {
  count: number;
  invoices: Array<{ id: string; status: string; amountRemaining: number; currency: string; dueDate: string | null }>;
  /** Per currency, formatted: `["120.00 EUR"]`. */
  amountDue: string[];
  /** The earliest due date (or creation, for an invoice without one), ISO. */
  since: string | null;
};

export function outstandingOf(invoices: StripeInvoice[]): Outstanding {
  const totals = new Map<string, number>();
  for (const invoice of invoices) totals.set(invoice.currency, (totals.get(invoice.currency) ?? 0) + invoice.amountRemaining);
  const starts = invoices.map((i) => i.dueDate ?? i.created).filter((t) => t > 0);
  return {
    count: invoices.length,
    invoices: invoices.map((i) => ({
      id: i.id,
      status: i.status,
      amountRemaining: i.amountRemaining,
      currency: i.currency,
      dueDate: i.dueDate === null ? null : new Date(i.dueDate * 1000).toISOString(),
    })),
    amountDue: [...totals].sort(([a], [b]) => a.localeCompare(b)).map(([currency, minor]) => formatAmount(minor, currency)),
    since: starts.length > 0 ? new Date(Math.min(...starts) * 1000).toISOString() : null,
  };
}

/**
 * The sentence shown beside the waiting step. `overdue` when no deadline was agreed or it has
 * passed; before an agreed deadline, when payment is due.
 */
export function waitingText(outstanding: Outstanding, deadline: Date | null, now: Date): string {
  const { count } = outstanding;
  const what = `${count} invoice${count === 1 ? '' : 's'} open, amount due ${outstanding.amountDue.join(' + ') || '0'}${
    outstanding.since ? ` since ${outstanding.since.slice(0, 10)}` : ''
  }`;
  if (deadline && deadline.getTime() > now.getTime()) return `payment due by ${deadline.toISOString()}: ${what}`;
  return `overdue: ${what}`;
}
