/**
 * The Stripe calls the adapter needs, through the official SDK (`stripe`) built the way the
 * engine needs it: `maxNetworkRetries: 0` (the engine owns retries), and every request
 * through our fetch (providers/http/request.ts: the throttle and lease fence, the attempt's
 * AbortSignal plus a per-request timeout). Our fetch also keeps the one retry the SDK makes
 * even with retries off (a connection closed with ECONNRESET or EPIPE is sent again): what it
 * throws carries no such code, so the SDK gives up and the engine decides.
 *
 * A Stripe client is built per call (about 0.1 ms): its methods take no AbortSignal, and a
 * client per call lets its fetch carry the calling attempt's signal.
 */
import Stripe from 'stripe';
import { PermanentError } from '../contract.ts';
import { fetchOnce, noThrottle, type Throttle } from '../http/request.ts';
import type { StripeConfig } from './config.ts';
import { stripeErrorCode, stripeStatus, toStripeError, type StripeOperation } from './errors.ts';

/** Stripe's largest page. */
const PAGE_SIZE = 100;
/** Pages read of one list before giving up: 5,000 objects, far beyond one customer's billing. */
const MAX_PAGES = 50;

/** Stripe ids of the objects read here: a prefix, then letters and digits. Anything else is refused before it is sent. */
export const STRIPE_ID = {
  customer: /^cus_\w{1,250}$/,
  subscription: /^sub_\w{1,250}$/,
  charge: /^(ch|py)_\w{1,250}$/,
  paymentIntent: /^pi_\w{1,250}$/,
  refund: /^(re|pyr)_\w{1,250}$/,
  invoice: /^in_\w{1,250}$/,
};

const OPERATIONS = {
  probe: { name: 'list customers (probe)', needs: 'Customers: read' },
  searchCustomers: { name: 'search customers', needs: 'Customers: read' },
  listCustomers: { name: 'list customers by email', needs: 'Customers: read' },
  listSubscriptions: { name: 'list subscriptions', needs: 'Subscriptions: read' },
  updateSubscription: { name: 'set subscription to cancel at period end', needs: 'Subscriptions: write' },
  cancelSubscription: { name: 'cancel subscription', needs: 'Subscriptions: write' },
  listInvoices: { name: 'list invoices', needs: 'Invoices: read' },
  listRefunds: { name: 'list refunds', needs: 'Refunds: read' },
  createRefund: { name: 'create refund', needs: 'Refunds: write' },
} satisfies Record<string, StripeOperation>;

export interface CallContext {
  signal: AbortSignal;
  now: () => Date;
}

/** The part of a customer the adapter reads. */
export interface StripeCustomer {
  id: string;
  email: string | null;
  /** The value of the lookup metadata key, or null when the customer has none. */
  clientId: string | null;
}

// Type aliases, not interfaces: they go into evidence (JsonObject).
export type StripeSubscription = {
  id: string;
  status: string;
  cancelAtPeriodEnd: boolean;
  /** Epoch seconds; set when the subscription is scheduled to end. */
  cancelAt: number | null;
  canceledAt: number | null;
};

export type StripeInvoice = {
  id: string;
  status: string;
  currency: string;
  /** Minor units still owed. */
  amountRemaining: number;
  /** Epoch seconds. */
  dueDate: number | null;
  created: number;
};

export type StripeRefund = {
  id: string;
  status: string;
  amount: number;
  currency: string;
  charge: string | null;
  paymentIntent: string | null;
  /** The task that asked for it (`metadata.deprovisiond_task`), or null. */
  taskId: string | null;
};

/** Where a refund goes: one charge or one payment intent. */
export type RefundTarget = { charge: string } | { payment_intent: string };

/** Metadata the adapter writes on a refund: found again by it after a lost answer or a takeover. */
export const REFUND_TASK_KEY = 'deprovisiond_task';

export class StripeApi {
  private readonly host: string;
  private readonly port: string;
  private readonly protocol: 'http' | 'https';

  /** `throttle`: the provider's request rate limit and the lease fence (ProviderFactoryContext.throttle). */
  constructor(
    private readonly config: StripeConfig,
    private readonly throttle: Throttle = noThrottle,
  ) {
    const base = new URL(config.apiBase);
    this.protocol = base.protocol === 'http:' ? 'http' : 'https';
    this.host = base.hostname;
    this.port = base.port || (this.protocol === 'http' ? '80' : '443');
  }

  async probe(ctx: CallContext): Promise<void> {
    await this.call(OPERATIONS.probe, ctx, (s) => s.customers.list({ limit: 1 }));
  }

  /**
   * Customers whose metadata key holds `value`, through the Search API (eventually
   * consistent: a customer tagged in the last minute may be missing). At most two: enough
   * to see an ambiguity.
   */
  async searchByMetadata(key: string, value: string, ctx: CallContext): Promise<StripeCustomer[]> {
    const query = `metadata['${key}']:'${searchLiteral(value)}'`;
    const page = await this.call(OPERATIONS.searchCustomers, ctx, (s) => s.customers.search({ query, limit: 2 }));
    return page.data.map((c) => toCustomer(c, key));
  }

  /** Every customer with this email (an exact, case-sensitive match at Stripe), paged. */
  async listByEmail(email: string, key: string, ctx: CallContext): Promise<StripeCustomer[]> {
    return (
      await this.pages(OPERATIONS.listCustomers, ctx, (s, after) => s.customers.list({ email, limit: PAGE_SIZE, starting_after: after }))
    ).map((c) => toCustomer(c, key));
  }

  /** Every subscription of the customer, ended ones included (`status: all`). */
  async subscriptions(customer: string, ctx: CallContext): Promise<StripeSubscription[]> {
    checked(customer, STRIPE_ID.customer, 'customer');
    const all = await this.pages(OPERATIONS.listSubscriptions, ctx, (s, after) =>
      s.subscriptions.list({ customer, status: 'all', limit: PAGE_SIZE, starting_after: after }),
    );
    return all.map(toSubscription);
  }

  /** `cancel_at_period_end: true`; the key makes a resend within Stripe's 24 h an answer replayed, not a second write. */
  async cancelAtPeriodEnd(id: string, idempotencyKey: string, ctx: CallContext): Promise<StripeSubscription> {
    checked(id, STRIPE_ID.subscription, 'subscription');
    const sub = await this.call(OPERATIONS.updateSubscription, ctx, (s) =>
      s.subscriptions.update(id, { cancel_at_period_end: true }, { idempotencyKey }),
    );
    return toSubscription(sub);
  }

  /**
   * Cancels at once. Stripe takes no idempotency key on DELETE (it has no effect there): the
   * adapter reads the subscription first instead. Null when Stripe no longer finds it.
   */
  async cancelNow(id: string, options: { invoiceNow: boolean; prorate: boolean }, ctx: CallContext): Promise<StripeSubscription | null> {
    checked(id, STRIPE_ID.subscription, 'subscription');
    const sub = await this.callOrMissing(OPERATIONS.cancelSubscription, ctx, (s) =>
      s.subscriptions.cancel(id, { invoice_now: options.invoiceNow, prorate: options.prorate }),
    );
    return sub && toSubscription(sub);
  }

  /** The customer's invoices in one status, paged. */
  async invoices(customer: string, status: 'draft' | 'open' | 'uncollectible', ctx: CallContext): Promise<StripeInvoice[]> {
    checked(customer, STRIPE_ID.customer, 'customer');
    const all = await this.pages(OPERATIONS.listInvoices, ctx, (s, after) =>
      s.invoices.list({ customer, status, limit: PAGE_SIZE, starting_after: after }),
    );
    return all.map(toInvoice);
  }

  /** The refunds of one charge or payment intent, paged. */
  async refunds(target: RefundTarget, ctx: CallContext): Promise<StripeRefund[]> {
    checkedTarget(target);
    const all = await this.pages(OPERATIONS.listRefunds, ctx, (s, after) =>
      s.refunds.list({ ...target, limit: PAGE_SIZE, starting_after: after }),
    );
    return all.map(toRefund);
  }

  async createRefund(
    target: RefundTarget,
    amount: number,
    metadata: Record<string, string>,
    idempotencyKey: string,
    ctx: CallContext,
  ): Promise<StripeRefund> {
    checkedTarget(target);
    const refund = await this.call(OPERATIONS.createRefund, ctx, (s) =>
      s.refunds.create({ ...target, amount, reason: 'requested_by_customer', metadata }, { idempotencyKey }),
    );
    return toRefund(refund);
  }

  private client(ctx: CallContext, operation: StripeOperation): Stripe {
    const { requestTimeoutMs } = this.config;
    const throttle = this.throttle;
    const summary = `Stripe ${operation.name}`;
    const fetchFn = async (url: string, init?: RequestInit): Promise<Response> => {
      if (init?.body !== undefined && init.body !== null && typeof init.body !== 'string') {
        throw new PermanentError(`${summary}: a body that is not form-encoded text, which no call of this adapter sends`);
      }
      return fetchOnce(url, {
        method: init?.method ?? 'GET',
        headers: Object.fromEntries(new Headers(init?.headers).entries()),
        body: init?.body ?? undefined,
        // Our own per-request timeout bounds the request; the SDK's own (below) is longer, so ours speaks first.
        signal: ctx.signal,
        timeoutMs: requestTimeoutMs,
        throttle,
        summary,
      });
    };
    return new Stripe(this.config.apiKey, {
      host: this.host,
      port: this.port,
      protocol: this.protocol,
      // The SDK's fetch client calls it with a URL string and an init (FetchHttpClient.makeRequest).
      httpClient: Stripe.createFetchHttpClient(fetchFn as typeof fetch),
      // The engine owns retries: the SDK sends each request once.
      maxNetworkRetries: 0,
      timeout: requestTimeoutMs * 2,
      telemetry: false,
      appInfo: { name: 'deprovisiond' },
    });
  }

  private async call<T>(operation: StripeOperation, ctx: CallContext, fn: (stripe: Stripe) => Promise<T>): Promise<T> {
    try {
      return await fn(this.client(ctx, operation));
    } catch (error) {
      throw toStripeError(error, operation, ctx.now().getTime());
    }
  }

  /** Like `call`, but a 404 `resource_missing` answers null: the object is gone. */
  private async callOrMissing<T>(operation: StripeOperation, ctx: CallContext, fn: (stripe: Stripe) => Promise<T>): Promise<T | null> {
    try {
      return await fn(this.client(ctx, operation));
    } catch (error) {
      if (stripeStatus(error) === 404 && stripeErrorCode(error) === 'resource_missing') return null;
      throw toStripeError(error, operation, ctx.now().getTime());
    }
  }

  /** Every page of a list, following `starting_after`; refuses to read past MAX_PAGES. */
  private async pages<T extends { id: string }>(
    operation: StripeOperation,
    ctx: CallContext,
    fetchPage: (stripe: Stripe, startingAfter: string | undefined) => Promise<{ data: T[]; has_more: boolean }>,
  ): Promise<T[]> {
    const all: T[] = [];
    let after: string | undefined;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const { data, has_more } = await this.call(operation, ctx, (s) => fetchPage(s, after));
      if (!Array.isArray(data)) throw new PermanentError(`Stripe ${operation.name}: an answer that is not a list`);
      all.push(...data);
      const last = data.at(-1);
      if (!has_more || !last) return all;
      after = last.id;
    }
    throw new PermanentError(`Stripe ${operation.name}: more than ${MAX_PAGES * PAGE_SIZE} objects; refusing to read further`);
  }
}

/** A value inside single quotes of Stripe's search query language: quotes and backslashes escaped. */
function searchLiteral(value: string): string {
  return value.replace(/[\\']/g, (c) => `\\${c}`);
}

function checked(id: string, pattern: RegExp, what: string): string {
  if (!pattern.test(id)) throw new PermanentError(`Stripe: a ${what} id that is not a Stripe ${what} id`);
  return id;
}

function checkedTarget(target: RefundTarget): void {
  if ('charge' in target) checked(target.charge, STRIPE_ID.charge, 'charge');
  else checked(target.payment_intent, STRIPE_ID.paymentIntent, 'payment intent');
}

const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
/** An expandable field: the id, whether Stripe sent the id or the object. */
const idOf = (value: unknown): string | null => str(value) ?? str((value as { id?: unknown } | null)?.id);

function toCustomer(value: Stripe.Customer | Stripe.DeletedCustomer, key: string): StripeCustomer {
  const id = str(value.id);
  if (!id || !STRIPE_ID.customer.test(id)) throw new PermanentError('Stripe: a customer without a valid id');
  const metadata = (value as { metadata?: unknown }).metadata;
  const clientId =
    metadata && typeof metadata === 'object' && Object.hasOwn(metadata, key) ? str((metadata as Record<string, unknown>)[key]) : null;
  return { id, email: str((value as { email?: unknown }).email), clientId };
}

function toSubscription(value: Stripe.Subscription): StripeSubscription {
  const id = str(value.id);
  if (!id || !STRIPE_ID.subscription.test(id)) throw new PermanentError('Stripe: a subscription without a valid id');
  return {
    id,
    status: str(value.status) ?? 'unknown',
    cancelAtPeriodEnd: (value.cancel_at_period_end as unknown) === true,
    cancelAt: num(value.cancel_at),
    canceledAt: num(value.canceled_at),
  };
}

function toInvoice(value: Stripe.Invoice): StripeInvoice {
  const id = str(value.id);
  if (!id || !STRIPE_ID.invoice.test(id)) throw new PermanentError('Stripe: an invoice without a valid id');
  return {
    id,
    status: str(value.status) ?? 'unknown',
    currency: (str(value.currency) ?? '???').toLowerCase(),
    amountRemaining: num(value.amount_remaining) ?? 0,
    dueDate: num(value.due_date),
    created: num(value.created) ?? 0,
  };
}

function toRefund(value: Stripe.Refund): StripeRefund {
  const id = str(value.id);
  if (!id || !STRIPE_ID.refund.test(id)) throw new PermanentError('Stripe: a refund without a valid id');
  const metadata = value.metadata;
  const taskId = metadata && Object.hasOwn(metadata, REFUND_TASK_KEY) ? str(metadata[REFUND_TASK_KEY]) : null;
  return {
    id,
    status: str(value.status) ?? 'unknown',
    amount: num(value.amount) ?? 0,
    currency: (str(value.currency) ?? '???').toLowerCase(),
    charge: idOf(value.charge),
    paymentIntent: idOf(value.payment_intent),
    taskId,
  };
}
