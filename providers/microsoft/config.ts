/**
 * Config of a Microsoft Entra / 365 provider instance: an app registration with
 * application permissions, authenticated with the client-credentials grant.
 */
import { z } from 'zod';

export const DEFAULT_GRAPH_BASE_URL = 'https://graph.microsoft.com';
export const DEFAULT_AUTHORITY = 'https://login.microsoftonline.com';
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** http(s) URL; unlike z.httpUrl() it accepts IP hosts such as the sandbox's 127.0.0.1. */
const httpUrl = z.url({ protocol: /^https?$/ });

export const microsoftConfigSchema = z.object({
  /** Directory (tenant) id or a verified domain of the tenant. */
  tenantId: z.string().min(1),
  /** Application (client) id of the app registration. */
  clientId: z.string().min(1),
  /** Client secret of the app registration. Never logged, never put in errors or evidence. */
  clientSecret: z.string().min(1),
  /**
   * Graph root, without the version. Default `https://graph.microsoft.com`; national
   * clouds use their own host (e.g. `https://graph.microsoft.us`), tests the sandbox.
   */
  baseUrl: httpUrl.default(DEFAULT_GRAPH_BASE_URL),
  /**
   * Token endpoint. Default `https://login.microsoftonline.com/{tenantId}/oauth2/v2.0/token`;
   * set it for national clouds or the sandbox.
   */
  tokenUrl: httpUrl.optional(),
  /**
   * Who receives access to a departing user's OneDrive when the subject has no manager
   * (a UPN or mail of a user in the tenant). Default none: `transfer_files` then fails
   * with a PermanentError instead of guessing.
   */
  fallbackOwner: z.string().min(1).optional(),
  /**
   * Per-request timeout (Graph and the token endpoint); a timed-out request is retried by
   * the engine as transient. Default `DEFAULT_REQUEST_TIMEOUT_MS` (30 s), applied by
   * `requestTimeoutOf` (optional here so configs built in code without it stay valid).
   */
  requestTimeoutMs: z.number().int().positive().max(300_000).optional(),
});

export type MicrosoftConfig = z.output<typeof microsoftConfigSchema>;

export function tokenUrlOf(config: MicrosoftConfig): string {
  return config.tokenUrl ?? `${DEFAULT_AUTHORITY}/${encodeURIComponent(config.tenantId)}/oauth2/v2.0/token`;
}

/**
 * The client-credentials grant asks for `{resource}/.default`: every application
 * permission granted to the app. The resource is the Graph host (national clouds differ).
 */
export function scopeOf(config: MicrosoftConfig): string {
  return `${new URL(config.baseUrl).origin}/.default`;
}

export function requestTimeoutOf(config: MicrosoftConfig): number {
  return config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
}
