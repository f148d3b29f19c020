/**
 * The console's "Sign in with <issuer>": the OIDC authorization code flow with PKCE
 * (RFC 7636) through openid-client. `begin` keeps a code verifier, state and nonce in this
 * process under a random id (the browser carries it in a short-lived cookie) and names the
 * issuer's authorization URL; `finish` redeems the code with them, once, and the ID token's
 * role claim, mapped as the admin API maps access tokens, decides the session's role.
 * Discovery runs on first use, so the daemon starts while the identity provider is down.
 */
import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import { roleFromClaims } from '../admin/oidc.ts';
import type { Principal } from '../admin/principal.ts';
import type { Config } from '../config/schema.ts';

type OidcConfig = NonNullable<Config['auth']['oidc']>;
export type ConsoleOidcConfig = OidcConfig & { console: NonNullable<OidcConfig['console']> };

/** How long the operator has at the identity provider before the started sign-in lapses. */
export const LOGIN_TTL_MS = 10 * 60_000;
/**
 * Sign-ins started and not finished, at most. Starting one needs no credential, so the map
 * is bounded; past the bound the oldest lapses (its operator starts again).
 */
const MAX_PENDING = 10_000;

/** Why a sign-in did not complete; the login page turns each into a fixed sentence. */
export type SignInFailure = 'denied' | 'refused' | 'expired' | 'no-role' | 'unavailable';

export class OidcSignInError extends Error {
  constructor(
    readonly reason: SignInFailure,
    options?: { cause?: unknown },
  ) {
    super(`OIDC sign-in failed: ${reason}`, options);
    this.name = 'OidcSignInError';
  }
}

interface Pending {
  verifier: string;
  state: string;
  nonce: string;
  redirectUri: string;
  expiresAt: number;
}

export class ConsoleOidc {
  private configuration: Promise<client.Configuration> | null = null;
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly config: ConsoleOidcConfig,
    private readonly now: () => Date,
    /** Bound on each request to the identity provider. Default 5s. */
    private readonly timeoutMs = 5000,
  ) {}

  get issuer(): string {
    return this.config.issuer;
  }

  /** Starts a sign-in: the id to keep in the browser's cookie and where to send the browser. */
  async begin(redirectUri: string): Promise<{ id: string; url: URL }> {
    const configuration = await this.discovered();
    const verifier = client.randomPKCECodeVerifier();
    const pending: Pending = {
      verifier,
      state: client.randomState(),
      nonce: client.randomNonce(),
      redirectUri,
      expiresAt: this.now().getTime() + LOGIN_TTL_MS,
    };
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: redirectUri,
      scope: this.config.console.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    });
    this.makeRoom();
    const id = randomBytes(32).toString('base64url');
    this.pending.set(id, pending);
    return { id, url };
  }

  /**
   * Finishes the sign-in `id` names with the callback's query string. The started sign-in is
   * spent whatever happens: a replayed callback finds nothing to finish.
   */
  async finish(id: string | undefined, callbackQuery: string): Promise<Principal> {
    const pending = id === undefined ? undefined : this.pending.get(id);
    if (id !== undefined) this.pending.delete(id);
    if (!pending || pending.expiresAt <= this.now().getTime()) throw new OidcSignInError('expired');
    const configuration = await this.discovered();
    const callback = new URL(pending.redirectUri);
    callback.search = callbackQuery;
    let claims: client.IDToken | undefined;
    try {
      const tokens = await client.authorizationCodeGrant(configuration, callback, {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      claims = tokens.claims();
    } catch (error) {
      throw new OidcSignInError(failureOf(error), { cause: error });
    }
    if (!claims) throw new OidcSignInError('refused');
    const role = roleFromClaims(this.config, claims);
    if (!role) throw new OidcSignInError('no-role');
    return { actor: `oidc:${claims.sub}`, role };
  }

  /** Drops lapsed sign-ins, then the oldest while full (a Map iterates in insertion order). */
  private makeRoom(): void {
    const now = this.now().getTime();
    for (const [id, p] of this.pending) if (p.expiresAt <= now) this.pending.delete(id);
    for (const id of this.pending.keys()) {
      if (this.pending.size < MAX_PENDING) break;
      this.pending.delete(id);
    }
  }

  private discovered(): Promise<client.Configuration> {
    this.configuration ??= this.discover().catch((error: unknown) => {
      this.configuration = null;
      throw new OidcSignInError('unavailable', { cause: error });
    });
    return this.configuration;
  }

  private discover(): Promise<client.Configuration> {
    const { issuer, console: registration } = this.config;
    // Plain http only reaches here on loopback (the config schema refuses it elsewhere): tests.
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- openid-client marks it deprecated only to make it stand out; the test-only loopback use above is the one it is meant for
    const insecure = issuer.startsWith('http://') ? [client.allowInsecureRequests] : [];
    return client.discovery(
      new URL(issuer),
      registration.clientId,
      undefined,
      registration.clientSecret ? client.ClientSecretBasic(registration.clientSecret) : client.None(),
      // The ID token's signature is checked against the issuer's keys, not taken on TLS's word.
      { timeout: Math.ceil(this.timeoutMs / 1000), execute: [...insecure, client.enableNonRepudiationChecks] },
    );
  }
}

/** What went wrong, from what openid-client threw: the issuer unreachable or failing is not the operator's doing. */
function failureOf(error: unknown): SignInFailure {
  if (error instanceof client.AuthorizationResponseError) return error.error === 'access_denied' ? 'denied' : 'refused';
  if (error instanceof client.ResponseBodyError) return error.status >= 500 ? 'unavailable' : 'refused';
  if (error instanceof TypeError) return 'unavailable';
  if (error instanceof client.ClientError) {
    if (error.code === 'OAUTH_TIMEOUT' || error.code === 'OAUTH_ABORT') return 'unavailable';
    if (error.cause instanceof Response && error.cause.status >= 500) return 'unavailable';
  }
  return 'refused';
}
