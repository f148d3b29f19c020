/**
 * The `providers.<name>` config block of a Slack organization or workspace. Two APIs:
 * the Web API (`users.lookupByEmail`, `users.info`, the `admin.users.*` methods of
 * Enterprise Grid) through the official SDK, and Slack's SCIM API (Business+ and Grid),
 * which deactivates accounts. Tokens come from the environment (`${SLACK_TOKEN}`).
 */
import { z } from 'zod';
import { secureUrl } from '../http/secure-url.ts';

/**
 * How disable_account cuts the account off:
 * - `scim_patch`: SCIM `PATCH /Users/{id}` setting `active` to false (the account is
 *   deactivated org-wide; it can be reactivated);
 * - `scim_delete`: SCIM `DELETE /Users/{id}`, which Slack also treats as deactivation;
 * - `admin_remove`: `admin.users.remove` from every workspace the user belongs to (Grid,
 *   without SCIM: the org account stays, in no workspace).
 */
export const SLACK_DISABLE_MODES = ['scim_patch', 'scim_delete', 'admin_remove'] as const;
export type SlackDisableMode = (typeof SLACK_DISABLE_MODES)[number];

export const slackScimSchema = z
  .object({
    /** `v2` (default) or `v1` (SCIM 1.1, Slack's older API; the PATCH body differs). */
    version: z.enum(['v1', 'v2']).default('v2'),
    /** The SCIM root without `/Users`. Default `https://api.slack.com/scim/{version}`. */
    baseUrl: secureUrl.optional(),
    /**
     * A token with the `admin` scope, installed by an Org Owner (Grid) or an Owner/Admin
     * (Business+). Default: the Web API `token` (one user token can carry every scope).
     */
    token: z.string().min(1).optional(),
  })
  .strict();

export const slackConfigSchema = z
  .object({
    /**
     * The Web API token: a user token (`xoxp-`) of an Org Owner or Admin, installed on the
     * organization, with `users:read` and `users:read.email` (finding people) and, for
     * revoke_sessions and `admin_remove`, `admin.users:read` and `admin.users:write`. The
     * `admin.*` methods refuse bot tokens (`not_allowed_token_type`).
     */
    token: z.string().min(1),
    /** The Web API root. Default `https://slack.com/api`. */
    apiUrl: secureUrl.default('https://slack.com/api'),
    /** Slack's SCIM API; needed by the `scim_*` disable modes. Default none. */
    scim: slackScimSchema.optional(),
    /** The disable_account mode when the playbook step names none (`params.mode`). Default `scim_patch`. */
    disableMode: z.enum(SLACK_DISABLE_MODES).default('scim_patch'),
    /** Per-request timeout; a timed-out request is retried by the engine as transient. Default 30 s. */
    requestTimeoutMs: z.number().int().positive().max(300_000).default(30_000),
  })
  .strict()
  .refine((c) => c.disableMode === 'admin_remove' || c.scim !== undefined, {
    error: 'disableMode scim_patch and scim_delete need a `scim` block (Slack SCIM API); without SCIM use disableMode admin_remove',
    path: ['scim'],
  });

export type SlackConfig = z.output<typeof slackConfigSchema>;
export type SlackConfigInput = z.input<typeof slackConfigSchema>;

/** The SCIM root a config points at. */
export function scimBaseUrl(scim: NonNullable<SlackConfig['scim']>): string {
  return scim.baseUrl ?? `https://api.slack.com/scim/${scim.version}`;
}
