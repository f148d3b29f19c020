/**
 * The `providers.<name>` config block of an outbound SCIM 2.0 provider: one block per
 * target application (Slack, GitHub, Atlassian, Zoom, PagerDuty...), because each target
 * finds users, accepts PATCH and shows a deprovisioned user differently.
 */
import { z } from 'zod';
import { secureEndpoint, secureUrl } from '../http/secure-url.ts';

/** A long-lived token the target application issued (Slack, GitHub EMU, Atlassian, Zoom, PagerDuty). */
export const scimBearerAuthSchema = z
  .object({
    bearerToken: z.string().min(1),
  })
  .strict();

/** OAuth 2.0 client credentials: a short-lived token from the target's token endpoint. */
export const scimClientCredentialsAuthSchema = z
  .object({
    tokenUrl: secureEndpoint,
    clientId: z.string().min(1),
    clientSecret: z.string().min(1),
    /** Space-separated scopes to ask for. Default none (the target grants its default). */
    scope: z.string().min(1).optional(),
  })
  .strict();

export const scimConfigSchema = z
  .object({
    /**
     * The SCIM root, without `/Users`: e.g. `https://api.slack.com/scim/v2`,
     * `https://api.atlassian.com/scim/directory/{directoryId}`.
     */
    baseUrl: secureUrl,
    auth: z.union([scimBearerAuthSchema, scimClientCredentialsAuthSchema]),
    /**
     * Which subject attribute finds the user: `userName` (filter `userName eq "..."`),
     * `email` (each of the subject's emails in turn) or `externalId`. Default `userName`.
     */
    lookup: z.enum(['userName', 'email', 'externalId']).default('userName'),
    /**
     * How an email filter is written: `emails.value eq "..."` (most targets) or the
     * value-path form `emails[value eq "..."]`. Default `emails.value`.
     */
    emailFilter: z.enum(['emails.value', 'emails[value]']).default('emails.value'),
    /**
     * The PATCH operation that deactivates: `path` sends
     * `{"op":"replace","path":"active","value":false}`, `valueObject` sends
     * `{"op":"replace","value":{"active":false}}`. Default `path`.
     */
    patchForm: z.enum(['path', 'valueObject']).default('path'),
    /**
     * What proves disable_account: `inactive` (GET shows `active: false`; a 404 also
     * counts) or `gone` (the target removes the identity on deactivation: only a 404
     * counts, e.g. GitHub org SCIM, PagerDuty). Default `inactive`.
     */
    verify: z.enum(['inactive', 'gone']).default('inactive'),
    /**
     * Offer `delete_account` (`DELETE /Users/{id}`). Default false: at some targets
     * (Atlassian) a SCIM DELETE is irreversible and takes the user's data with it.
     */
    allowDelete: z.boolean().default(false),
    /** Per-request timeout; a timed-out request is retried by the engine as transient. Default 30 s. */
    requestTimeoutMs: z.number().int().positive().max(300_000).default(30_000),
  })
  .strict();

export type ScimConfig = z.output<typeof scimConfigSchema>;
export type ScimConfigInput = z.input<typeof scimConfigSchema>;
export type ScimAuthConfig = ScimConfig['auth'];
