/**
 * Stripe emulator: the API paths the adapter calls, as api.stripe.com answers them. Requests
 * carry the key as a Bearer token (or HTTP Basic user); bodies are form-encoded with
 * Stripe's bracket notation (`metadata[key]=value`); lists are `{ object: 'list', data,
 * has_more, url }` paged with `starting_after`; errors are `{ error: { type, code, message,
 * param } }`. POSTs honour `Idempotency-Key`: the same key with the same request replays the
 * first answer (`Idempotent-Replayed: true`), with another request it is a 400
 * `idempotency_error`. Over the limit: 429 `rate_limit`, without Retry-After, as Stripe does.
 */
import { randomBytes } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import {
  createSandboxApp,
  listenSandbox,
  type RunningSandbox,
  type SandboxControl,
  type SandboxOptions,
  type SandboxStyle,
} from '../sandbox/kit.ts';
import { STRIPE_SANDBOX_KEY } from './sandbox-credentials.ts';
import {
  customerJson,
  invoiceJson,
  refundJson,
  STRIPE_SANDBOX_API_VERSION,
  stripeSeedCustomerSchema,
  StripeState,
  subscriptionJson,
  type SandboxCharge,
  type SandboxCustomer,
  type SeededCustomer,
  type StripeSeedCustomer,
} from './sandbox-state.ts';

export { STRIPE_SANDBOX_KEY };
export type { SeededCustomer, StripeSeedCustomer } from './sandbox-state.ts';

export interface StripeSandboxOptions extends SandboxOptions {
  port?: number;
}

interface StripeErrorBody {
  type: 'invalid_request_error' | 'api_error' | 'idempotency_error' | 'card_error';
  message: string;
  code?: string;
  param?: string;
}

type Params = Record<string, unknown>;

function stripeError(res: Response, status: number, error: StripeErrorBody): void {
  res
    .status(status)
    .json({ error: { ...error, request_log_url: `https://dashboard.stripe.com/test/logs/${String(res.get('request-id'))}` } });
}

const noSuch = (res: Response, object: string, id: string, param = 'id') =>
  stripeError(res, 404, { type: 'invalid_request_error', code: 'resource_missing', param, message: `No such ${object}: '${id}'` });

const badParam = (res: Response, param: string, message: string, code = 'parameter_invalid_string') =>
  stripeError(res, 400, { type: 'invalid_request_error', code, param, message });

/** The key presented: Bearer, or HTTP Basic with the key as user name (both work at Stripe). */
function presentedKey(req: Request): string | null {
  const header = req.get('authorization') ?? '';
  const bearer = /^Bearer (.+)$/i.exec(header)?.[1];
  if (bearer) return bearer.trim();
  const basic = /^Basic (.+)$/i.exec(header)?.[1];
  return basic ? (Buffer.from(basic, 'base64').toString('utf8').split(':')[0] ?? null) : null;
}

function style(): SandboxStyle {
  return {
    rateLimited(res) {
      stripeError(res, 429, {
        type: 'invalid_request_error',
        code: 'rate_limit',
        message: 'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.',
      });
    },
    serverError(res) {
      res.set('Stripe-Should-Retry', 'true');
      stripeError(res, 500, { type: 'api_error', message: 'An unknown error occurred' });
    },
    unauthorized(res) {
      const key = presentedKey(res.req);
      stripeError(res, 401, {
        type: 'invalid_request_error',
        message: key
          ? `Invalid API Key provided: ${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`
          : "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
      });
    },
    authorized(req) {
      return !req.path.startsWith('/v1/') || presentedKey(req) === STRIPE_SANDBOX_KEY;
    },
  };
}

/** `limit` (1–100, default 10) and `starting_after` over newest-first objects, as a list object. */
function list<T extends { id: string }>(req: Request, res: Response, items: T[], url: string, json: (item: T) => unknown): void {
  const limit = req.query.limit === undefined ? 10 : Number(req.query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100)
    return badParam(res, 'limit', 'This value must be between 1 and 100.', 'parameter_invalid_integer');
  const newestFirst = [...items].reverse();
  let start = 0;
  const after = req.query.starting_after;
  if (typeof after === 'string') {
    const index = newestFirst.findIndex((i) => i.id === after);
    if (index < 0) return noSuch(res, 'object', after, 'starting_after');
    start = index + 1;
  }
  const data = newestFirst.slice(start, start + limit);
  res.json({ object: 'list', data: data.map(json), has_more: start + limit < newestFirst.length, url });
}

const bool = (value: unknown): boolean | undefined => (value === 'true' ? true : value === 'false' ? false : undefined);

/** `metadata['key']:'value'` or `email:'value'`, quotes single or double, `\` escaping: the clauses the adapter sends. */
const SEARCH_CLAUSE = /^(?:metadata\[(['"])([^'"\\]{1,40})\1\]|(email)):(['"])((?:\\.|(?!\4)[^\\])*)\4$/;

function search(state: StripeState, control: SandboxControl) {
  return (req: Request, res: Response) => {
    const query = typeof req.query.query === 'string' ? req.query.query.trim() : '';
    if (!query) return badParam(res, 'query', 'Missing required param: query.', 'parameter_missing');
    const m = SEARCH_CLAUSE.exec(query);
    if (!m) return badParam(res, 'query', `Invalid search query: ${query.slice(0, 100)}`, 'parameter_invalid_string');
    const [, , metadataKey, email, , raw] = m;
    const value = raw!.replace(/\\(.)/g, '$1');
    const matches = (c: SandboxCustomer) =>
      email ? c.email === value : Object.hasOwn(c.metadata, metadataKey!) && c.metadata[metadataKey!] === value;
    let found = [...state.customers.values()].filter(matches);
    if (found.length === 0 && control.autoProvision) {
      const seeded = state.seed(
        stripeSeedCustomerSchema.parse(
          email
            ? { email: value }
            : { clientId: value, metadataKey, email: `${value.slice(0, 40).replace(/[^\w.-]/g, '')}@client.example` },
        ),
      );
      found = [state.customers.get(seeded.customer)!];
    }
    const limit = req.query.limit === undefined ? 10 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      return badParam(res, 'limit', 'This value must be between 1 and 100.', 'parameter_invalid_integer');
    const offset = typeof req.query.page === 'string' ? Number(Buffer.from(req.query.page, 'base64url').toString()) || 0 : 0;
    const data = found.reverse().slice(offset, offset + limit);
    const more = offset + limit < found.length;
    res.json({
      object: 'search_result',
      data: data.map(customerJson),
      has_more: more,
      next_page: more ? Buffer.from(String(offset + limit)).toString('base64url') : null,
      url: '/v1/customers/search',
    });
  };
}

/**
 * Idempotency for POSTs: the first answer to a key is kept and replayed for the same request;
 * another request under the key is refused. Stripe keeps keys for 24 hours.
 */
function idempotent(state: StripeState) {
  return (req: Request, res: Response, next: () => void) => {
    const key = req.get('idempotency-key');
    if (req.method !== 'POST' || !key) return next();
    const fingerprint = `${req.path} ${JSON.stringify(req.body ?? {})}`;
    const kept = state.idempotency.get(key);
    res.set('Idempotency-Key', key);
    if (kept) {
      if (kept.fingerprint !== fingerprint) {
        return stripeError(res, 400, {
          type: 'idempotency_error',
          message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        });
      }
      res.set('Idempotent-Replayed', 'true');
      return void res.status(kept.status).json(kept.body);
    }
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      // Stripe keeps the answer of a request that ran, successful or refused; not a 5xx or 429.
      if (res.statusCode < 500 && res.statusCode !== 429) state.idempotency.set(key, { fingerprint, status: res.statusCode, body });
      return json(body);
    };
    next();
  };
}

function routes(state: StripeState) {
  return (app: express.Express, control: SandboxControl) => {
    const v1 = express.Router();
    v1.use(express.urlencoded({ extended: true, limit: '1mb' }));
    v1.use((req, res, next) => {
      res.set('Request-Id', `req_${randomBytes(7).toString('hex')}`);
      res.set('Stripe-Version', req.get('stripe-version') ?? STRIPE_SANDBOX_API_VERSION);
      next();
    });
    v1.use(idempotent(state));

    v1.get('/customers/search', search(state, control));

    v1.get('/customers', (req, res) => {
      const email = typeof req.query.email === 'string' ? req.query.email : null;
      let customers = [...state.customers.values()].filter((c) => email === null || c.email === email);
      if (customers.length === 0 && email !== null && control.autoProvision) {
        customers = [state.customers.get(state.seed(stripeSeedCustomerSchema.parse({ email })).customer)!];
      }
      list(req, res, customers, '/v1/customers', customerJson);
    });

    v1.get('/subscriptions', (req, res) => {
      const customer = typeof req.query.customer === 'string' ? req.query.customer : null;
      const status = typeof req.query.status === 'string' ? req.query.status : null;
      const ended = ['canceled', 'incomplete_expired'];
      const subs = [...state.subscriptions.values()].filter(
        (s) =>
          (customer === null || s.customer === customer) &&
          (status === 'all' ||
            (status === null && !ended.includes(s.status)) ||
            (status === 'ended' && ended.includes(s.status)) ||
            s.status === status),
      );
      list(req, res, subs, '/v1/subscriptions', subscriptionJson);
    });

    v1.get('/subscriptions/:id', (req, res) => {
      const sub = state.subscriptions.get(req.params.id);
      if (!sub) return noSuch(res, 'subscription', req.params.id);
      res.json(subscriptionJson(sub));
    });

    v1.post('/subscriptions/:id', (req, res) => {
      const sub = state.subscriptions.get(req.params.id);
      if (!sub) return noSuch(res, 'subscription', req.params.id);
      const body = (req.body ?? {}) as Params;
      const unknown = Object.keys(body).find((k) => k !== 'cancel_at_period_end' && k !== 'metadata');
      if (unknown) return badParam(res, unknown, `Received unknown parameter: ${unknown}`, 'parameter_unknown');
      const end = body.cancel_at_period_end === undefined ? undefined : bool(body.cancel_at_period_end);
      if (body.cancel_at_period_end !== undefined && end === undefined) {
        return badParam(
          res,
          'cancel_at_period_end',
          `Invalid boolean: ${JSON.stringify(body.cancel_at_period_end).slice(0, 40)}`,
          'parameter_invalid_boolean',
        );
      }
      if (sub.status === 'canceled' && end !== undefined) {
        return badParam(
          res,
          'cancel_at_period_end',
          'A canceled subscription can only update its cancellation_details and metadata.',
          'resource_missing',
        );
      }
      if (end === undefined) return res.json(subscriptionJson(sub));
      const next = {
        ...sub,
        cancelAtPeriodEnd: end,
        cancelAt: end ? sub.periodEnd : null,
        cancellationReason: end ? 'cancellation_requested' : null,
      };
      if (!control.lie() && end !== sub.cancelAtPeriodEnd) {
        Object.assign(sub, next);
        control.countWrite('cancel_at_period_end', sub.id);
      }
      res.json(subscriptionJson(next));
    });

    v1.delete('/subscriptions/:id', (req, res) => {
      const sub = state.subscriptions.get(req.params.id);
      // A subscription already canceled is not found for cancellation (check against Stripe).
      if (!sub || sub.status === 'canceled') return noSuch(res, 'subscription', req.params.id);
      const params = { ...(req.query as Params), ...((req.body ?? {}) as Params) };
      for (const name of ['invoice_now', 'prorate']) {
        if (params[name] !== undefined && bool(params[name]) === undefined) {
          return badParam(res, name, `Invalid boolean: ${JSON.stringify(params[name]).slice(0, 40)}`, 'parameter_invalid_boolean');
        }
      }
      const now = Math.floor(Date.now() / 1000);
      const next = { ...sub, status: 'canceled' as const, canceledAt: now, endedAt: now, cancellationReason: 'cancellation_requested' };
      if (!control.lie()) {
        Object.assign(sub, next);
        control.countWrite('cancel', sub.id);
      }
      res.json(subscriptionJson(next));
    });

    v1.get('/invoices', (req, res) => {
      const customer = typeof req.query.customer === 'string' ? req.query.customer : null;
      const status = typeof req.query.status === 'string' ? req.query.status : null;
      if (status !== null && !['draft', 'open', 'paid', 'uncollectible', 'void'].includes(status)) {
        return badParam(res, 'status', `Invalid status: must be one of draft, open, paid, uncollectible, or void`);
      }
      const invoices = [...state.invoices.values()].filter(
        (i) => (customer === null || i.customer === customer) && (status === null || i.status === status),
      );
      list(req, res, invoices, '/v1/invoices', invoiceJson);
    });

    v1.get('/refunds', (req, res) => {
      const charge = typeof req.query.charge === 'string' ? req.query.charge : null;
      const pi = typeof req.query.payment_intent === 'string' ? req.query.payment_intent : null;
      const refunds = [...state.refunds.values()].filter(
        (r) => (charge === null || r.charge === charge) && (pi === null || r.paymentIntent === pi),
      );
      list(req, res, refunds, '/v1/refunds', refundJson);
    });

    v1.get('/refunds/:id', (req, res) => {
      const refund = state.refunds.get(req.params.id);
      if (!refund) return noSuch(res, 'refund', req.params.id);
      res.json(refundJson(refund));
    });

    v1.post('/refunds', (req, res) => {
      const body = (req.body ?? {}) as Params;
      const chargeId = typeof body.charge === 'string' ? body.charge : null;
      const piId = typeof body.payment_intent === 'string' ? body.payment_intent : null;
      if (!chargeId && !piId)
        return badParam(
          res,
          'charge',
          'One of the following params should be provided for this request: charge or payment_intent.',
          'parameter_missing',
        );
      if (chargeId && piId)
        return badParam(res, 'payment_intent', 'You cannot provide both charge and payment_intent.', 'parameter_invalid_string');
      let charge: SandboxCharge | undefined;
      if (chargeId) {
        charge = state.charges.get(chargeId);
        if (!charge) return noSuch(res, 'charge', chargeId, 'charge');
      } else {
        charge = state.chargeOfPaymentIntent(piId!);
        if (!charge) return noSuch(res, 'payment_intent', piId!, 'payment_intent');
      }
      const left = charge.amount - charge.amountRefunded;
      const amount = body.amount === undefined ? left : Number(body.amount);
      if (!Number.isInteger(amount) || amount < 1) return badParam(res, 'amount', 'Invalid positive integer', 'parameter_invalid_integer');
      if (left === 0) return badParam(res, 'charge', `Charge ${charge.id} has already been refunded.`, 'charge_already_refunded');
      if (amount > left)
        return badParam(
          res,
          'amount',
          `Refund amount (${amount}) is greater than unrefunded amount on charge (${left})`,
          'amount_too_large',
        );
      const rawMetadata = body.metadata;
      const metadata: Record<string, string> = {};
      if (rawMetadata !== undefined) {
        if (typeof rawMetadata !== 'object' || rawMetadata === null || Array.isArray(rawMetadata))
          return badParam(res, 'metadata', 'Invalid object');
        for (const [k, v] of Object.entries(rawMetadata)) if (typeof v === 'string') metadata[k] = v;
      }
      const reason = typeof body.reason === 'string' ? body.reason : null;
      const refund = state.newRefund(charge, amount, metadata, reason);
      if (!control.lie()) {
        state.refunds.set(refund.id, refund);
        charge.amountRefunded += amount;
        control.countWrite('refund', charge.id);
      }
      res.json(refundJson(refund));
    });

    v1.use((req, res) => {
      stripeError(res, 404, {
        type: 'invalid_request_error',
        message: `Unrecognized request URL (${req.method}: ${req.path.slice(0, 100)}).`,
      });
    });
    app.use('/v1', v1);
  };
}

function controlRoutes(state: StripeState) {
  return (router: Router) => {
    router.post('/customers', (req, res) => {
      const parsed = stripeSeedCustomerSchema.safeParse(req.body ?? {});
      if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
      res.status(201).json(state.seed(parsed.data));
    });
    router.get('/customers/:id', (req, res) => {
      const customer = state.customers.get(req.params.id);
      if (!customer) return void res.status(404).json({ error: 'no such customer' });
      const of = <T extends { customer: string }>(items: Iterable<T>) => [...items].filter((i) => i.customer === customer.id);
      res.json({
        customer: customerJson(customer),
        subscriptions: of(state.subscriptions.values()).map(subscriptionJson),
        invoices: of(state.invoices.values()).map(invoiceJson),
        refunds: [...state.refunds.values()].filter((r) => state.charges.get(r.charge)?.customer === customer.id).map(refundJson),
      });
    });
    // The client pays: a settle_billing step waiting for it finishes at its next check.
    router.post('/invoices/:id/pay', (req, res) => {
      const invoice = state.invoices.get(req.params.id);
      if (!invoice) return void res.status(404).json({ error: 'no such invoice' });
      if (invoice.status !== 'open') return void res.status(409).json({ error: `invoice is ${invoice.status}` });
      state.pay(invoice);
      res.json(invoiceJson(invoice));
    });
  };
}

/** A running Stripe emulator, with its state reachable in process for tests. */
export interface RunningStripeSandbox extends RunningSandbox {
  /** Seeds a customer (what `POST /__sandbox/customers` does). */
  seedCustomer(input: StripeSeedCustomer): SeededCustomer;
  readonly state: StripeState;
}

/** Starts the Stripe emulator on 127.0.0.1 (a random port unless given). */
export async function startStripeSandbox(options: StripeSandboxOptions = {}): Promise<RunningStripeSandbox> {
  const state = new StripeState();
  const sandbox = createSandboxApp(style(), options, routes(state), controlRoutes(state));
  const running = await listenSandbox(sandbox, { port: options.port });
  return { ...running, seedCustomer: (input) => state.seed(stripeSeedCustomerSchema.parse(input)), state };
}
