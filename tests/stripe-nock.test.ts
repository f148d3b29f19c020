/**
 * The exact requests the Stripe adapter sends through the official SDK, asserted with nock:
 * the search query, the list parameters and paging, the form bodies (bracket notation for
 * metadata), the idempotency keys derived from the task, and how Stripe's answers (429, 5xx,
 * 401, 403, 404 resource_missing, a reset connection) become typed errors, each request
 * sent once (the SDK retries nothing, not even a reset connection).
 */
import nock from 'nock';
import { describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { stripeConfigSchema, type StripeConfigInput } from '../providers/stripe/config.ts';
import { stripeModule } from '../providers/stripe/index.ts';
import { PermanentError, RateLimitedError, TransientError, VerificationError } from '../src/domain/errors.ts';
import type { JsonObject, Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';
import { strictNock } from './helpers/strict-nock.ts';

const API = 'https://stripe.example';
const KEY = 'rk_test_nockRestrictedKeySecret';
const NOW = new Date('2025-03-01T12:00:00.000Z');
const account: AccountRef = { id: 'cus_Ada', via: 'metadata', clientId: 'HR-1815' };
const subject: Subject = { externalId: "HR-18'15", emails: ['ada@client.example', 'billing@client.example'] };
const ctx = (params: JsonObject = {}, checkpoint: JsonObject | null = null) =>
  actionContext(subject, { now: () => NOW, params, checkpoint, taskId: 'task-7', terminationId: 'term-3' });

function provider(overrides: Partial<StripeConfigInput> = {}): Provider {
  const config = stripeConfigSchema.parse({ apiKey: KEY, apiBase: API, requestTimeoutMs: 5000, ...overrides });
  return stripeModule.create(config, { name: 'stripe-nock', logger: silentLogger() });
}

/** Every call: the key as a Bearer header and the SDK's pinned API version. */
const stripe = () => nock(API, { reqheaders: { authorization: `Bearer ${KEY}`, 'stripe-version': /^\d{4}-\d{2}-\d{2}\.\w+$/ } });
const list = (data: unknown[], hasMore = false) => ({ object: 'list', data, has_more: hasMore, url: '/v1/x' });
const customer = (id: string, email: string, metadata: Record<string, string> = {}) => ({ id, object: 'customer', email, metadata });
const sub = (id: string, status: string, end = false) => ({
  id,
  object: 'subscription',
  status,
  cancel_at_period_end: end,
  cancel_at: end ? 1_743_465_600 : null,
  canceled_at: status === 'canceled' ? 1_740_000_000 : null,
});
const invoice = (id: string, status: string, remaining: number, due: number | null) => ({
  id,
  object: 'invoice',
  status,
  currency: 'eur',
  amount_remaining: remaining,
  due_date: due,
  created: 1_735_689_600,
});
const refund = (id: string, status = 'succeeded', amount = 1200) => ({
  id,
  object: 'refund',
  status,
  amount,
  currency: 'eur',
  charge: 'ch_1',
  payment_intent: 'pi_1',
  metadata: { deprovisiond_task: 'task-7' },
});
const stripeError = (type: string, code?: string) => ({
  error: { type, ...(code ? { code } : {}), message: 'Invalid API Key provided: rk_test_****cret' },
});

strictNock();

describe('resolve', () => {
  it('searches the metadata key for the externalId, quotes escaped as the search language wants', async () => {
    stripe()
      .get('/v1/customers/search')
      .query({ query: "metadata['client_id']:'HR-18\\'15'", limit: '2' })
      .reply(200, {
        object: 'search_result',
        data: [customer('cus_Ada', 'ada@client.example', { client_id: "HR-18'15" })],
        has_more: false,
      });
    expect(await provider().resolve(subject, ctx())).toEqual({ id: 'cus_Ada', via: 'metadata', clientId: "HR-18'15" });
  });

  it('falls back to the customers of each email (Search lags), leaving out another client’s customer', async () => {
    stripe()
      .get('/v1/customers/search')
      .query({ query: "metadata['crm_id']:'HR-18\\'15'", limit: '2' })
      .reply(200, { object: 'search_result', data: [], has_more: false })
      .get('/v1/customers')
      .query({ email: 'ada@client.example', limit: '100' })
      .reply(200, list([]))
      .get('/v1/customers')
      .query({ email: 'billing@client.example', limit: '100' })
      .reply(200, list([customer('cus_Other', 'billing@client.example', { crm_id: 'HR-9' })], true))
      .get('/v1/customers')
      .query({ email: 'billing@client.example', limit: '100', starting_after: 'cus_Other' })
      .reply(200, list([customer('cus_Ada', 'billing@client.example')]));
    expect(await provider({ lookup: { metadataKey: 'crm_id' } }).resolve(subject, ctx())).toEqual({
      id: 'cus_Ada',
      via: 'email',
      clientId: null,
    });
  });

  it('refuses to guess between two customers', async () => {
    stripe()
      .get('/v1/customers/search')
      .query(true)
      .reply(200, { object: 'search_result', data: [customer('cus_A', 'a@x.example'), customer('cus_B', 'b@x.example')], has_more: false });
    await expect(provider().resolve(subject, ctx())).rejects.toBeInstanceOf(PermanentError);
  });
});

describe('cancel_subscriptions', () => {
  const subs = () =>
    stripe()
      .get('/v1/subscriptions')
      .query({ customer: 'cus_Ada', status: 'all', limit: '100' })
      .reply(200, list([sub('sub_A', 'active'), sub('sub_B', 'active', true), sub('sub_C', 'canceled')]));

  it('at period end: one update per live subscription, keyed by task and subscription; read back', async () => {
    subs();
    stripe()
      .post('/v1/subscriptions/sub_A', 'cancel_at_period_end=true')
      .matchHeader('idempotency-key', 'deprovisiond-task-7-end-sub_A')
      .matchHeader('content-type', 'application/x-www-form-urlencoded')
      .reply(200, sub('sub_A', 'active', true));
    const p = provider();
    const executed = await p.actions.cancel_subscriptions!.execute(account, ctx());
    expect(executed.evidence).toEqual({
      customer: 'cus_Ada',
      at: 'period_end',
      scheduled: [{ id: 'sub_A', status: 'active', cancelAtPeriodEnd: true, cancelAt: '2025-04-01T00:00:00.000Z' }],
      alreadyEnded: ['sub_C'],
      alreadyScheduled: ['sub_B'],
      alreadyDone: false,
    });
    stripe()
      .get('/v1/subscriptions')
      .query({ customer: 'cus_Ada', status: 'all', limit: '100' })
      .reply(200, list([sub('sub_A', 'active')]));
    await expect(p.actions.cancel_subscriptions!.verify(account, ctx())).rejects.toBeInstanceOf(VerificationError);
  });

  it('now: DELETE with invoice_now and prorate in the query, no idempotency key (Stripe ignores it on DELETE); a 404 is already ended', async () => {
    subs();
    nock(API, { badheaders: ['idempotency-key'] })
      .delete('/v1/subscriptions/sub_A')
      .query({ invoice_now: 'true', prorate: 'false' })
      .reply(200, sub('sub_A', 'canceled'))
      .delete('/v1/subscriptions/sub_B')
      .query({ invoice_now: 'true', prorate: 'false' })
      .reply(404, { error: { type: 'invalid_request_error', code: 'resource_missing', message: "No such subscription: 'sub_B'" } });
    const executed = await provider().actions.cancel_subscriptions!.execute(account, ctx({ at: 'now', invoiceNow: true }));
    expect(executed.evidence).toMatchObject({ at: 'now', ended: ['sub_A'], alreadyEnded: ['sub_B', 'sub_C'], alreadyDone: false });
  });

  it('refuses unknown params before any request', async () => {
    await expect(provider().actions.cancel_subscriptions!.execute(account, ctx({ at: 'tomorrow' }))).rejects.toBeInstanceOf(PermanentError);
  });
});

describe('settle_billing', () => {
  const params = { refund: { amount: 1200, currency: 'EUR', charge: 'ch_1' } };
  const invoices = (open: unknown[]) =>
    stripe()
      .get('/v1/invoices')
      .query({ customer: 'cus_Ada', status: 'open', limit: '100' })
      .reply(200, list(open))
      .get('/v1/invoices')
      .query({ customer: 'cus_Ada', status: 'draft', limit: '100' })
      .reply(200, list([]))
      .get('/v1/invoices')
      .query({ customer: 'cus_Ada', status: 'uncollectible', limit: '100' })
      .reply(200, list([]));

  it('issues the agreed refund once (read first, keyed, tagged with the task), then waits while an invoice is owed', async () => {
    stripe().get('/v1/refunds').query({ charge: 'ch_1', limit: '100' }).reply(200, list([]));
    stripe()
      .post(
        '/v1/refunds',
        'charge=ch_1&amount=1200&reason=requested_by_customer&metadata[deprovisiond_task]=task-7&metadata[deprovisiond_termination]=term-3',
      )
      .matchHeader('idempotency-key', 'deprovisiond-task-7-refund-ch_1')
      .reply(200, refund('re_1'));
    invoices([invoice('in_1', 'open', 12000, 1_738_368_000), invoice('in_2', 'open', 0, null)]);
    const executed = await provider().actions.settle_billing!.execute(account, ctx(params));
    expect(executed.inProgress?.checkAfterMs).toBe(3_600_000);
    expect(executed.inProgress?.checkpoint).toMatchObject({
      waitingFor: 'overdue: 1 invoice open, amount due 120.00 EUR since 2025-02-01',
      overdue: true,
      owingSince: NOW.toISOString(),
      refund: { id: 're_1', status: 'succeeded', amount: 1200, currency: 'eur', alreadyDone: false },
    });
  });

  it('the next check keeps the refund from its checkpoint and the agreed deadline: payment due, not overdue yet', async () => {
    invoices([invoice('in_1', 'open', 12000, 1_738_368_000)]);
    const checkpoint = {
      owingSince: '2025-02-27T12:00:00.000Z',
      refund: { id: 're_1', status: 'succeeded', amount: 1200, currency: 'eur' },
    };
    const executed = await provider().actions.settle_billing!.execute(
      account,
      ctx({ ...params, overdueAfter: '7d', checkEvery: '15m' }, checkpoint),
    );
    expect(executed.inProgress).toMatchObject({
      checkAfterMs: 900_000,
      checkpoint: {
        waitingFor: 'payment due by 2025-03-06T12:00:00.000Z: 1 invoice open, amount due 120.00 EUR since 2025-02-01',
        overdue: false,
        deadline: '2025-03-06T12:00:00.000Z',
      },
    });
  });

  it('an unreadable owingSince in the checkpoint starts the count again instead of throwing', async () => {
    invoices([invoice('in_1', 'open', 500, null)]);
    const executed = await provider().actions.settle_billing!.execute(account, ctx({ overdueAfter: '1d' }, { owingSince: 'not a date' }));
    expect(executed.inProgress?.checkpoint).toMatchObject({ owingSince: NOW.toISOString(), overdue: false });
  });

  it('nothing owed: done, and the read-back finds the refund by the task', async () => {
    invoices([]);
    const p = provider();
    const checkpoint = { refund: { id: 're_1', status: 'succeeded', amount: 1200, currency: 'eur' } };
    expect((await p.actions.settle_billing!.execute(account, ctx(params, checkpoint))).inProgress).toBeUndefined();
    invoices([]);
    stripe()
      .get('/v1/refunds')
      .query({ charge: 'ch_1', limit: '100' })
      .reply(200, list([refund('re_9', 'succeeded', 500), refund('re_1')]));
    // The first refund of the list is another amount: it is matched by task, then checked.
    await expect(p.actions.settle_billing!.verify(account, ctx(params))).rejects.toBeInstanceOf(VerificationError);
  });

  it('a failed refund is an operator’s to decide, not retried', async () => {
    stripe()
      .get('/v1/refunds')
      .query({ charge: 'ch_1', limit: '100' })
      .reply(200, list([refund('re_1', 'failed')]));
    await expect(provider().actions.settle_billing!.execute(account, ctx(params))).rejects.toBeInstanceOf(PermanentError);
  });
});

describe('answers become typed errors, each request sent once', () => {
  const search = () => stripe().get('/v1/customers/search').query(true);

  it('429 without Retry-After: one second; with it: what it says', async () => {
    search().reply(429, stripeError('invalid_request_error', 'rate_limit'));
    const first = await provider()
      .resolve(subject, ctx())
      .catch((e: unknown) => e);
    expect(first).toBeInstanceOf(RateLimitedError);
    expect((first as RateLimitedError).retryAfterMs).toBe(1000);
    search().reply(429, stripeError('invalid_request_error', 'rate_limit'), { 'retry-after': '3' });
    expect(
      (
        (await provider()
          .resolve(subject, ctx())
          .catch((e: unknown) => e)) as RateLimitedError
      ).retryAfterMs,
    ).toBe(3000);
  });

  it('500 and a reset connection are transient (the SDK retries neither)', async () => {
    const unmatched: unknown[] = [];
    const count = (request: unknown) => unmatched.push(request);
    nock.emitter.on('no match', count);
    search().reply(500, { error: { type: 'api_error', message: 'An unknown error occurred' } }, { 'stripe-should-retry': 'true' });
    await expect(provider().resolve(subject, ctx())).rejects.toBeInstanceOf(TransientError);
    search().replyWithError({ code: 'ECONNRESET', message: 'socket hang up' });
    await expect(provider().resolve(subject, ctx())).rejects.toBeInstanceOf(TransientError);
    nock.emitter.removeListener('no match', count);
    expect(unmatched).toEqual([]);
  });

  it('401 and 403 are permanent, name the fix, and never repeat the key', async () => {
    search().reply(401, stripeError('invalid_request_error'));
    const unauthorized = (await provider()
      .resolve(subject, ctx())
      .catch((e: unknown) => e)) as Error;
    expect(unauthorized).toBeInstanceOf(PermanentError);
    expect(unauthorized.message).toMatch(/apiKey/);
    expect(unauthorized.message).not.toMatch(/rk_test/);
    search().reply(403, { error: { type: 'invalid_request_error', message: 'The provided key does not have the required permissions' } });
    const forbidden = (await provider()
      .resolve(subject, ctx())
      .catch((e: unknown) => e)) as Error;
    expect(forbidden).toBeInstanceOf(PermanentError);
    expect(forbidden.message).toMatch(/Customers: read/);
  });
});
