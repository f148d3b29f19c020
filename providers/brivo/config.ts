/**
 * The `providers.<name>` config block of a Brivo Access account. Brivo authenticates
 * twice: every call carries the developer `api-key` (Mashery), and an OAuth bearer token
 * obtained with the password grant for a dedicated Brivo administrator, whose role
 * bounds what the daemon can do.
 */
import { z } from 'zod';
import { secureUrl } from '../http/secure-url.ts';

export const brivoLookupSchema = z.discriminatedUnion('by', [
  /** `GET /v1/api/users/{externalId}/external` with the subject's externalId (HRIS id, AD objectGUID...). */
  z.object({ by: z.literal('externalId') }).strict(),
  /**
   * `GET /v1/api/users?filter=cf_{customFieldId}__exact:{value}`: Brivo's user list
   * cannot filter by email, so accounts that keep the work email (or another key) in a
   * TEXT custom field look users up through it.
   */
  z
    .object({
      by: z.literal('customField'),
      customFieldId: z.number().int().positive(),
      /** Which subject attribute the custom field holds. Default `email` (each email in turn). */
      subjectField: z.enum(['email', 'userName', 'externalId']).default('email'),
    })
    .strict(),
]);

export const brivoConfigSchema = z
  .object({
    /** API host. Default `https://api.brivo.com`; EU accounts use `https://api.eu.brivo.com`. */
    apiUrl: secureUrl.default('https://api.brivo.com'),
    /** OAuth host. Default `https://auth.brivo.com`; EU accounts use `https://auth.eu.brivo.com`. */
    authUrl: secureUrl.default('https://auth.brivo.com'),
    /** The developer portal API key (`api-key` header), for the same environment as the account. */
    apiKey: z.string().min(1),
    /** Client id and secret of the application created under Configuration -> Integrations. */
    clientId: z.string().min(1),
    clientSecret: z.string().min(1),
    /** The dedicated Brivo administrator the password grant signs in as. */
    username: z.string().min(1),
    password: z.string().min(1),
    /** How the subject's Brivo user is found. Default by externalId. */
    lookup: brivoLookupSchema.default({ by: 'externalId' }),
    /**
     * deactivate_badge also unassigns every credential (cards, PINs, mobile passes) from
     * the user, so a card handed back cannot open a door even if someone lifts the
     * suspension. Default true.
     */
    revokeCredentials: z.boolean().default(true),
    /** Per-request timeout; a timed-out request is retried by the engine as transient. Default 30 s. */
    requestTimeoutMs: z.number().int().positive().max(300_000).default(30_000),
  })
  .strict();

export type BrivoConfig = z.output<typeof brivoConfigSchema>;
export type BrivoConfigInput = z.input<typeof brivoConfigSchema>;
