/**
 * OIDC access tokens for the admin API: the issuer's discovery document names its JWKS;
 * tokens are verified with jose (signature, issuer, audience, expiry) and mapped to a role
 * through one claim. Discovery runs on first use, not at start-up, so the daemon (and its
 * intake) starts even while the identity provider is down; a failed discovery is retried.
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import type { Config } from '../config/schema.ts';
import type { Role } from './principal.ts';

type OidcConfig = NonNullable<Config['auth']['oidc']>;

/** The identity provider could not be reached or answered nonsense: a 503, not a 401. */
export class OidcUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OidcUnavailableError';
  }
}

/** The token is not acceptable (signature, issuer, audience, expiry, shape). */
export class InvalidOidcTokenError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('invalid access token', options);
    this.name = 'InvalidOidcTokenError';
  }
}

// Asymmetric only: an HMAC-signed token would be verifiable with a key the IdP publishes.
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/**
 * The role a token's `roleClaim` grants (null: none). Access tokens here and the console's
 * ID tokens (src/console/oidc-login.ts) are mapped by this one rule.
 */
export function roleFromClaims(config: Pick<OidcConfig, 'roleClaim' | 'roles'>, claims: Record<string, unknown>): Role | null {
  const claim = claims[config.roleClaim];
  const values = typeof claim === 'string' ? [claim] : Array.isArray(claim) ? claim.filter((v): v is string => typeof v === 'string') : [];
  if (values.some((v) => config.roles.operator.includes(v))) return 'operator';
  if (values.some((v) => config.roles.viewer.includes(v))) return 'viewer';
  return null;
}

export class OidcVerifier {
  private jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | null = null;

  constructor(
    private readonly config: OidcConfig,
    /** Bound on each discovery and JWKS request. Default 5s. */
    private readonly timeoutMs = 5000,
  ) {}

  /** The caller's subject and role (null when no configured claim value matches). */
  async verify(token: string): Promise<{ subject: string; role: Role | null }> {
    const jwks = await this.keySet();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: this.config.issuer,
        audience: this.config.audience,
        algorithms: ALGORITHMS,
        requiredClaims: ['sub', 'exp'],
        clockTolerance: 30,
      }));
    } catch (error) {
      if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || !(error instanceof errors.JOSEError)) {
        throw new OidcUnavailableError('identity provider keys unavailable', { cause: error });
      }
      throw new InvalidOidcTokenError({ cause: error });
    }
    return { subject: String(payload.sub), role: roleFromClaims(this.config, payload) };
  }

  private keySet(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    this.jwks ??= this.discover().catch((error: unknown) => {
      this.jwks = null;
      throw error;
    });
    return this.jwks;
  }

  private async discover(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    const url = `${this.config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let document: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`discovery answered ${response.status}`);
      document = (await response.json()) as typeof document;
    } catch (error) {
      throw new OidcUnavailableError(`OIDC discovery failed at ${url}`, { cause: error });
    }
    // OIDC Discovery 1.0 §4.3: the document must name the issuer it was fetched for.
    if (document.issuer !== this.config.issuer || typeof document.jwks_uri !== 'string') {
      throw new OidcUnavailableError(`OIDC discovery at ${url} does not describe issuer ${this.config.issuer}`);
    }
    return createRemoteJWKSet(new URL(document.jwks_uri), { timeoutDuration: this.timeoutMs });
  }
}
