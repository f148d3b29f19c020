/** The `providers.<name>` config block of an Okta provider. */
import { z } from 'zod';

const common = {
  /** The org's base URL, e.g. `https://acme.okta.com` (not the `-admin` URL). */
  orgUrl: z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, '')),
  /** Per-request timeout; the engine retries a timed-out request as transient. Default 30 s. */
  requestTimeoutMs: z.number().int().positive().max(300_000).default(30_000),
};

/** An API token (`Authorization: SSWS <token>`), created by an admin holding a custom role. */
export const oktaApiTokenConfigSchema = z.object({
  ...common,
  token: z.string().min(1),
});

/** An OAuth 2.0 service app authenticating with a private-key JWT (client credentials). */
export const oktaPrivateKeyConfigSchema = z.object({
  ...common,
  clientId: z.string().min(1),
  /** PEM, or a JWK as a JSON string. */
  privateKey: z.string().min(1),
  /** The `kid` of the key registered on the service app. */
  keyId: z.string().min(1).optional(),
  /** Default: exactly what the adapter calls need. */
  scopes: z.array(z.string().min(1)).nonempty().default(['okta.users.read', 'okta.users.manage', 'okta.groups.manage']),
});

export const oktaConfigSchema = z.union([oktaApiTokenConfigSchema, oktaPrivateKeyConfigSchema]);
export type OktaConfig = z.infer<typeof oktaConfigSchema>;
