/**
 * The `providers.<name>` config block of a Stripe account: billing of the customers being
 * offboarded (issue 28). The key comes from the environment (`${STRIPE_API_KEY}`): a
 * restricted key (`rk_live_…`) with Customers read, Subscriptions write, Invoices read and
 * Refunds write is enough (docs/providers/stripe.md); a secret key (`sk_live_…`) works too.
 */
import { z } from 'zod';
import { durationSchema } from '../../src/config/duration.ts';
import { secureUrl } from '../http/secure-url.ts';

/** A metadata key as Stripe takes it (at most 40 characters), safe inside a search query. */
const METADATA_KEY = /^[A-Za-z0-9_.-]{1,40}$/;

export const stripeConfigSchema = z
  .object({
    /** A secret (`sk_`) or restricted (`rk_`) key. */
    apiKey: z.string().regex(/^(sk|rk)_(live|test)_\w{4,}$/, 'a Stripe secret (sk_…) or restricted (rk_…) key'),
    /** The API's origin. Default `https://api.stripe.com`; a sandbox's URL in tests. */
    apiBase: secureUrl
      .refine((u) => new URL(u).pathname === '/', { error: 'an origin without a path: the SDK appends /v1/… itself' })
      .default('https://api.stripe.com'),
    /** How a subject is found among the customers. */
    lookup: z
      .object({
        /**
         * The customer metadata key that holds the subject's `externalId` (the client's id in
         * the HRIS or CRM). Default `client_id`.
         */
        metadataKey: z.string().regex(METADATA_KEY).default('client_id'),
        /**
         * When the search finds no customer, list the customers with the subject's email
         * addresses (Search is eventually consistent: a customer created or tagged in the last
         * minute may not be found by it yet). Default true.
         */
        emailFallback: z.boolean().default(true),
      })
      .strict()
      .default({ metadataKey: 'client_id', emailFallback: true }),
    /**
     * How often a settle_billing step still waiting for money owed reads the invoices again
     * (`params.checkEvery` overrides it per step). Default 1 h.
     */
    checkEvery: durationSchema
      .pipe(
        z
          .number()
          .int()
          .min(1000)
          .max(30 * 86_400_000),
      )
      .default(3_600_000),
    /** Per-request timeout; a timed-out request is retried by the engine as transient. Default 30 s. */
    requestTimeoutMs: z.number().int().positive().max(300_000).default(30_000),
  })
  .strict();

export type StripeConfig = z.output<typeof stripeConfigSchema>;
export type StripeConfigInput = z.input<typeof stripeConfigSchema>;
