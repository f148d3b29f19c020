/**
 * The Stripe adapter: a client's billing when they are offboarded. Finds the customer by
 * the subject's externalId in a metadata key (Search API, then the customers with the
 * subject's email), ends their subscriptions (at the period's end or at once:
 * cancel_subscriptions), and settles what is owed (settle.ts). Each is read back.
 */
import type { AccountRef, ActionContext, ActionHandler, Evidence, ExecuteResult, Provider, ProviderFactoryContext } from '../contract.ts';
import { PermanentError, VerificationError } from '../contract.ts';
import type { Subject } from '../../src/domain/types.ts';
import { StripeApi, type StripeCustomer, type StripeSubscription } from './client.ts';
import type { StripeConfig } from './config.ts';
import { cancelParams } from './params.ts';
import { settleBilling } from './settle.ts';

/** Subscriptions with nothing left to end. */
const ENDED = ['canceled', 'incomplete_expired'];
/** An address as Stripe's email filter takes it. */
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,253}$/;

function candidateEmails(subject: Subject): string[] {
  return [...new Set(subject.emails.filter((e): e is string => typeof e === 'string' && e.length <= 254 && EMAIL.test(e)))];
}

function accountOf(customer: StripeCustomer, via: 'metadata' | 'email'): AccountRef {
  return { id: customer.id, via, clientId: customer.clientId };
}

/** What the read-back shows of one subscription. */
function shown(sub: StripeSubscription) {
  return {
    id: sub.id,
    status: sub.status,
    cancelAtPeriodEnd: sub.cancelAtPeriodEnd,
    cancelAt: sub.cancelAt === null ? null : new Date(sub.cancelAt * 1000).toISOString(),
  };
}

export function createStripeProvider(config: StripeConfig, factory: ProviderFactoryContext): Provider {
  const api = new StripeApi(config, factory.throttle);
  const key = config.lookup.metadataKey;

  function oneOf(customers: StripeCustomer[], how: string): StripeCustomer | null {
    if (customers.length > 1) throw new PermanentError(`Stripe resolve: ${customers.length} customers match ${how}; refusing to guess`);
    return customers[0] ?? null;
  }

  async function resolve(subject: Subject, ctx: ActionContext): Promise<AccountRef | null> {
    const clientId = typeof subject.externalId === 'string' && subject.externalId.trim() !== '' ? subject.externalId : null;
    const emails = config.lookup.emailFallback ? candidateEmails(subject) : [];
    if (clientId === null && emails.length === 0) {
      throw new PermanentError(`Stripe resolve: the subject has no externalId (metadata ${key}) nor email address to find a customer by`);
    }
    if (clientId !== null) {
      if (clientId.length > 500) throw new PermanentError('Stripe resolve: the externalId is longer than a metadata value can be');
      const found = oneOf(await api.searchByMetadata(key, clientId, ctx), `metadata ${key}`);
      if (found) return accountOf(found, 'metadata');
    }
    for (const email of emails) {
      // Another client's customer with the same address is not this subject's.
      const customers = (await api.listByEmail(email, key, ctx)).filter((c) => c.clientId === null || c.clientId === clientId);
      const found = oneOf(customers, 'the email address');
      if (found) return accountOf(found, 'email');
    }
    return null;
  }

  const cancelSubscriptions: ActionHandler = {
    async execute(account, ctx): Promise<ExecuteResult> {
      const params = cancelParams(ctx.params);
      // Read first: a subscription already ended or already set to end is not written again.
      const subscriptions = await api.subscriptions(account.id, ctx);
      const ended: string[] = [];
      const scheduled: Array<ReturnType<typeof shown>> = [];
      const alreadyEnded: string[] = [];
      const alreadyScheduled: string[] = [];
      for (const sub of subscriptions) {
        if (ENDED.includes(sub.status)) {
          alreadyEnded.push(sub.id);
        } else if (params.at === 'period_end') {
          if (sub.cancelAtPeriodEnd || sub.cancelAt !== null) alreadyScheduled.push(sub.id);
          else scheduled.push(shown(await api.cancelAtPeriodEnd(sub.id, `deprovisiond-${ctx.taskId}-end-${sub.id}`, ctx)));
        } else {
          const after = await api.cancelNow(sub.id, { invoiceNow: params.invoiceNow, prorate: params.prorate }, ctx);
          if (after) ended.push(after.id);
          else alreadyEnded.push(sub.id);
        }
      }
      return {
        evidence: {
          customer: account.id,
          at: params.at,
          ...(params.at === 'now' ? { ended, invoiceNow: params.invoiceNow, prorate: params.prorate } : { scheduled }),
          alreadyEnded,
          alreadyScheduled,
          alreadyDone: ended.length === 0 && scheduled.length === 0,
        },
      };
    },
    async verify(account, ctx): Promise<Evidence> {
      const params = cancelParams(ctx.params);
      const subscriptions = await api.subscriptions(account.id, ctx);
      const observed = { customer: account.id, at: params.at, subscriptions: subscriptions.map(shown) };
      const live = subscriptions.filter(
        (s) => !ENDED.includes(s.status) && (params.at === 'now' || (!s.cancelAtPeriodEnd && s.cancelAt === null)),
      );
      if (live.length > 0) {
        const how = params.at === 'now' ? 'not canceled' : 'neither canceled nor set to end';
        throw new VerificationError(`Stripe cancel_subscriptions: ${live.length} subscription(s) ${how}`, observed);
      }
      return observed;
    },
  };

  return {
    kind: 'stripe',
    name: factory.name,
    resolve,
    actions: { cancel_subscriptions: cancelSubscriptions, settle_billing: settleBilling(api, config.checkEvery) },
    async validate(ctx) {
      await api.probe({ signal: ctx.signal, now: () => new Date() });
    },
  };
}
