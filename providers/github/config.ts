/**
 * The `providers.<name>` config block of a GitHub organization: where the API is (github.com
 * or a GitHub Enterprise Server), which organization, the token, and how a leaver's GitHub
 * login is found.
 */
import { z } from 'zod';

/** https, or http on a loopback host only (the sandbox): the token never crosses a network in clear text. */
const secureUrl = z
  .url({ protocol: /^https?$/ })
  .refine((u) => u.startsWith('https://') || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(u), {
    error: 'expected an https URL (http only on a loopback host)',
  })
  .transform((url) => url.replace(/\/+$/, ''));

/** GitHub's rule for user and organization logins: letters, digits and single inner hyphens, at most 39. */
export const GITHUB_LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;

export const githubLookupSchema = z.discriminatedUnion('by', [
  /**
   * The organization's SAML identities (GraphQL `externalIdentities(userName:)`, which matches
   * the SAML NameID or the SCIM userName): the subject's `from` value is the NameID the IdP
   * sends, and the identity's linked user is the login. Needs SAML SSO configured on the
   * organization itself (not only on its enterprise).
   */
  z
    .object({
      by: z.literal('samlIdentity'),
      /** Which subject attribute the IdP sends as NameID. Default `userName` (Entra's UPN, Okta's username). */
      from: z.enum(['userName', 'email', 'externalId']).default('userName'),
    })
    .strict(),
  /**
   * The subject already carries the GitHub login, in `from` (`userNameLocalPart`: the user
   * name before `@`). The login is confirmed as a member or outside collaborator of the
   * organization before anything is done to it.
   */
  z
    .object({
      by: z.literal('login'),
      from: z.enum(['userName', 'userNameLocalPart', 'externalId']).default('userName'),
    })
    .strict(),
]);

export const githubConfigSchema = z
  .object({
    /**
     * The REST API's base URL. Default `https://api.github.com`; GitHub Enterprise Server:
     * `https://HOST/api/v3` (GraphQL is then reached at `https://HOST/api/graphql`).
     */
    baseUrl: secureUrl.default('https://api.github.com'),
    /** The organization's login, e.g. `acme`. */
    org: z.string().regex(GITHUB_LOGIN, 'expected a GitHub organization login'),
    /**
     * A fine-grained personal access token, or a classic one, of an organization owner (see
     * docs/providers/github.md for the permissions). Sent as `Authorization: token …`; never logged.
     */
    token: z.string().min(1),
    /** How the subject's GitHub login is found. Default through the organization's SAML identities. */
    lookup: githubLookupSchema.default({ by: 'samlIdentity', from: 'userName' }),
    /**
     * disable_account also removes the login as an outside collaborator (access to single
     * repositories without membership). It lists the organization's outside collaborators,
     * one request per 100. Default true.
     */
    removeOutsideCollaborator: z.boolean().default(true),
    /** Per-request timeout; a timed-out request is retried by the engine as transient. Default 30 s. */
    requestTimeoutMs: z.number().int().positive().max(300_000).default(30_000),
  })
  .strict();

export type GitHubConfig = z.output<typeof githubConfigSchema>;
export type GitHubConfigInput = z.input<typeof githubConfigSchema>;
