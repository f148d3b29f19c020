/**
 * The state of the Stripe emulator: customers, their subscriptions, invoices, charges and
 * refunds, the idempotency keys it has answered, and the JSON shapes the API answers with
 * (API version 2026-11-18: the billing period lives on subscription items).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';

export const STRIPE_SANDBOX_API_VERSION = '2026-11-18.endive';
const DAY = 86_400;
const nowSeconds = () => Math.floor(Date.now() / 1000);
const newId = (prefix: string) =>
  `${prefix}_${randomBytes(12)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, 14)}`;

export interface SandboxCustomer {
  id: string;
  email: string | null;
  name: string | null;
  metadata: Record<string, string>;
  created: number;
}

export interface SandboxSubscription {
  id: string;
  customer: string;
  status: 'active' | 'canceled' | 'past_due' | 'trialing';
  currency: string;
  cancelAtPeriodEnd: boolean;
  cancelAt: number | null;
  canceledAt: number | null;
  endedAt: number | null;
  periodStart: number;
  periodEnd: number;
  created: number;
  cancellationReason: string | null;
}

export interface SandboxInvoice {
  id: string;
  customer: string;
  subscription: string | null;
  status: 'draft' | 'open' | 'paid' | 'uncollectible' | 'void';
  currency: string;
  amountDue: number;
  amountPaid: number;
  dueDate: number | null;
  created: number;
  finalizedAt: number | null;
  paidAt: number | null;
}

export interface SandboxCharge {
  id: string;
  customer: string;
  paymentIntent: string;
  amount: number;
  amountRefunded: number;
  currency: string;
}

export interface SandboxRefund {
  id: string;
  charge: string;
  paymentIntent: string;
  amount: number;
  currency: string;
  metadata: Record<string, string>;
  reason: string | null;
  status: 'succeeded' | 'pending' | 'failed' | 'canceled';
  created: number;
}

/** An answer kept for an idempotency key: replayed for the same request, refused for another. */
export interface KeptAnswer {
  fingerprint: string;
  status: number;
  body: unknown;
}

/** Body of `POST /__sandbox/customers`. */
export const stripeSeedCustomerSchema = z
  .object({
    email: z.string().min(3).max(254).optional(),
    /** The value of the `client_id` metadata key (or `metadataKey`). */
    clientId: z.string().min(1).max(500).optional(),
    metadataKey: z.string().min(1).max(40).default('client_id'),
    /** Active monthly subscriptions. Default 1. */
    subscriptions: z.number().int().min(0).max(20).default(1),
    /** Open invoices: amount in minor units, and how many days past their due date they are. */
    openInvoices: z
      .array(
        z.object({
          amountDue: z.number().int().positive().max(99_999_999),
          currency: z
            .string()
            .regex(/^[a-z]{3}$/)
            .default('eur'),
          daysPastDue: z.number().int().min(0).max(3650).default(0),
        }),
      )
      .max(20)
      .default([]),
    /** Succeeded charges (each with its payment intent) that refunds can go to. */
    charges: z
      .array(
        z.object({
          amount: z.number().int().positive().max(99_999_999),
          currency: z
            .string()
            .regex(/^[a-z]{3}$/)
            .default('eur'),
        }),
      )
      .max(20)
      .default([]),
  })
  .strict();
export type StripeSeedCustomer = z.input<typeof stripeSeedCustomerSchema>;

export interface SeededCustomer {
  customer: string;
  subscriptions: string[];
  invoices: string[];
  charges: Array<{ id: string; paymentIntent: string }>;
}

export class StripeState {
  readonly customers = new Map<string, SandboxCustomer>();
  readonly subscriptions = new Map<string, SandboxSubscription>();
  readonly invoices = new Map<string, SandboxInvoice>();
  readonly charges = new Map<string, SandboxCharge>();
  readonly refunds = new Map<string, SandboxRefund>();
  readonly idempotency = new Map<string, KeptAnswer>();

  seed(input: z.output<typeof stripeSeedCustomerSchema>): SeededCustomer {
    const now = nowSeconds();
    const customer: SandboxCustomer = {
      id: newId('cus'),
      email: input.email ?? null,
      name: input.email?.split('@')[0] ?? null,
      metadata: input.clientId ? { [input.metadataKey]: input.clientId } : {},
      created: now,
    };
    this.customers.set(customer.id, customer);
    const subscriptions = Array.from({ length: input.subscriptions }, () => {
      const sub: SandboxSubscription = {
        id: newId('sub'),
        customer: customer.id,
        status: 'active',
        currency: 'eur',
        cancelAtPeriodEnd: false,
        cancelAt: null,
        canceledAt: null,
        endedAt: null,
        periodStart: now - 10 * DAY,
        periodEnd: now + 20 * DAY,
        created: now - 40 * DAY,
        cancellationReason: null,
      };
      this.subscriptions.set(sub.id, sub);
      return sub.id;
    });
    const invoices = input.openInvoices.map((spec) => {
      const due = now - spec.daysPastDue * DAY;
      const invoice: SandboxInvoice = {
        id: newId('in'),
        customer: customer.id,
        subscription: subscriptions[0] ?? null,
        status: 'open',
        currency: spec.currency,
        amountDue: spec.amountDue,
        amountPaid: 0,
        dueDate: due,
        created: due - 30 * DAY,
        finalizedAt: due - 30 * DAY,
        paidAt: null,
      };
      this.invoices.set(invoice.id, invoice);
      return invoice.id;
    });
    const charges = input.charges.map((spec) => {
      const charge: SandboxCharge = {
        id: newId('ch'),
        customer: customer.id,
        paymentIntent: newId('pi'),
        amount: spec.amount,
        amountRefunded: 0,
        currency: spec.currency,
      };
      this.charges.set(charge.id, charge);
      return { id: charge.id, paymentIntent: charge.paymentIntent };
    });
    return { customer: customer.id, subscriptions, invoices, charges };
  }

  chargeOfPaymentIntent(id: string): SandboxCharge | undefined {
    return [...this.charges.values()].find((c) => c.paymentIntent === id);
  }

  /** What paying an invoice does: nothing left owed on it. */
  pay(invoice: SandboxInvoice): void {
    invoice.status = 'paid';
    invoice.amountPaid = invoice.amountDue;
    invoice.paidAt = nowSeconds();
  }

  newRefund(charge: SandboxCharge, amount: number, metadata: Record<string, string>, reason: string | null): SandboxRefund {
    return {
      id: newId('re'),
      charge: charge.id,
      paymentIntent: charge.paymentIntent,
      amount,
      currency: charge.currency,
      metadata,
      reason,
      status: 'succeeded',
      created: nowSeconds(),
    };
  }
}

export function customerJson(c: SandboxCustomer) {
  return {
    id: c.id,
    object: 'customer',
    address: null,
    balance: 0,
    created: c.created,
    currency: 'eur',
    default_source: null,
    delinquent: false,
    description: null,
    email: c.email,
    invoice_prefix: c.id.slice(4, 12).toUpperCase(),
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    livemode: false,
    metadata: c.metadata,
    name: c.name,
    phone: null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
}

export function subscriptionJson(s: SandboxSubscription) {
  const itemId = `si_${s.id.slice(4)}`;
  return {
    id: s.id,
    object: 'subscription',
    application: null,
    billing_cycle_anchor: s.periodStart,
    cancel_at: s.cancelAt,
    cancel_at_period_end: s.cancelAtPeriodEnd,
    canceled_at: s.canceledAt,
    cancellation_details: { comment: null, feedback: null, reason: s.cancellationReason },
    collection_method: 'charge_automatically',
    created: s.created,
    currency: s.currency,
    customer: s.customer,
    days_until_due: null,
    default_payment_method: null,
    description: null,
    discounts: [],
    ended_at: s.endedAt,
    items: {
      object: 'list',
      data: [
        {
          id: itemId,
          object: 'subscription_item',
          created: s.created,
          current_period_end: s.periodEnd,
          current_period_start: s.periodStart,
          metadata: {},
          price: { id: 'price_sandboxMonthly', object: 'price', currency: s.currency, unit_amount: 4900, recurring: { interval: 'month' } },
          quantity: 1,
          subscription: s.id,
        },
      ],
      has_more: false,
      total_count: 1,
      url: `/v1/subscription_items?subscription=${s.id}`,
    },
    latest_invoice: null,
    livemode: false,
    metadata: {},
    start_date: s.created,
    status: s.status,
    test_clock: null,
    trial_end: null,
    trial_start: null,
  };
}

export function invoiceJson(i: SandboxInvoice) {
  const remaining = i.status === 'paid' || i.status === 'void' ? 0 : i.amountDue - i.amountPaid;
  return {
    id: i.id,
    object: 'invoice',
    amount_due: i.amountDue,
    amount_overpaid: 0,
    amount_paid: i.amountPaid,
    amount_remaining: remaining,
    attempt_count: i.status === 'draft' ? 0 : 1,
    attempted: i.status !== 'draft',
    auto_advance: i.status === 'draft' || i.status === 'open',
    billing_reason: i.subscription ? 'subscription_cycle' : 'manual',
    collection_method: 'send_invoice',
    created: i.created,
    currency: i.currency,
    customer: i.customer,
    due_date: i.dueDate,
    hosted_invoice_url: null,
    livemode: false,
    metadata: {},
    number: i.status === 'draft' ? null : `SBX-${i.id.slice(3, 9).toUpperCase()}`,
    parent: i.subscription ? { type: 'subscription_details', subscription_details: { subscription: i.subscription, metadata: {} } } : null,
    period_end: i.created,
    period_start: i.created - 30 * DAY,
    status: i.status,
    status_transitions: { finalized_at: i.finalizedAt, marked_uncollectible_at: null, paid_at: i.paidAt, voided_at: null },
    subtotal: i.amountDue,
    total: i.amountDue,
  };
}

export function refundJson(r: SandboxRefund) {
  return {
    id: r.id,
    object: 'refund',
    amount: r.amount,
    balance_transaction: null,
    charge: r.charge,
    created: r.created,
    currency: r.currency,
    destination_details: null,
    metadata: r.metadata,
    payment_intent: r.paymentIntent,
    reason: r.reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: r.status,
    transfer_reversal: null,
  };
}
