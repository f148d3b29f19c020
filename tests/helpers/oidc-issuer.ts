/**
 * A local OIDC issuer for tests, on 127.0.0.1: discovery document and JWKS (switchable off),
 * a token minter, and a minimal but honest authorization server for the authorization code
 * flow with PKCE. Its authorize endpoint signs in whoever `signInAs` names (or answers
 * `access_denied`) and issues a code bound to the client, redirect URI, S256 challenge and
 * nonce; its token endpoint authenticates the client (secret by Basic or POST, or none for a
 * public client), checks the code verifier and redirect URI, redeems each code once, and
 * answers with an ID token signed by the published key.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';

export interface RegisteredClient {
  clientId: string;
  /** Absent: a public client, authenticated by PKCE alone. */
  clientSecret?: string;
  redirectUris: string[];
}

export interface LocalIssuer {
  issuer: string;
  /** A key the issuer does not publish: its tokens must be refused. */
  strangerKey: CryptoKey;
  /** While true, discovery answers 503. */
  discoveryDown: boolean;
  /** While true, the token endpoint answers 503. */
  tokenEndpointDown: boolean;
  /** The claims of whoever signs in at the authorize endpoint next; null: the user refuses (access_denied). */
  signInAs: Record<string, unknown> | null;
  /** Changes the redirect back before the browser follows it (a tampered or forged callback). */
  tamper: ((callback: URL) => void) | null;
  /** A dishonest token endpoint: its next ID tokens signed by this key, or carrying this nonce. */
  forgeIdToken: { key?: CryptoKey; nonce?: string } | null;
  /** Token requests refused, with the reason the endpoint gave (`invalid_grant: code already used`). */
  refusals: string[];
  register(client: RegisteredClient): void;
  token(
    claims: Record<string, unknown>,
    options?: { key?: CryptoKey; audience?: string; issuer?: string; expiresIn?: string | number },
  ): Promise<string>;
  close(): Promise<void>;
}

interface IssuedCode {
  clientId: string;
  redirectUri: string;
  challenge: string;
  nonce: string | undefined;
  claims: Record<string, unknown>;
  expiresAt: number;
  used: boolean;
}

const CODE_TTL_MS = 60_000;
const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');
const sameSecret = (a: string, b: string) => {
  const [x, y] = [createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest()];
  return timingSafeEqual(x, y);
};

export async function startLocalIssuer(audience = 'deprovisiond'): Promise<LocalIssuer> {
  const pair = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const clients = new Map<string, RegisteredClient>();
  const codes = new Map<string, IssuedCode>();
  const app = express();
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sign = (claims: Record<string, unknown>, aud: string, key: CryptoKey, iss: string, expiresIn: string | number) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setSubject(typeof claims.sub === 'string' ? claims.sub : 'alice')
      .setIssuer(iss)
      .setAudience(aud)
      .setIssuedAt()
      .setExpirationTime(expiresIn)
      .sign(key);
  const local: LocalIssuer = {
    issuer,
    strangerKey: (await generateKeyPair('ES256')).privateKey,
    discoveryDown: false,
    tokenEndpointDown: false,
    signInAs: { sub: 'alice' },
    tamper: null,
    forgeIdToken: null,
    refusals: [],
    register: (client) => void clients.set(client.clientId, client),
    token: (claims, options = {}) =>
      sign(claims, options.audience ?? audience, options.key ?? pair.privateKey, options.issuer ?? issuer, options.expiresIn ?? '5m'),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };

  app.get('/.well-known/openid-configuration', (_req, res) => {
    if (local.discoveryDown) return void res.status(503).end();
    res.json({
      issuer,
      jwks_uri: `${issuer}/jwks`,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      id_token_signing_alg_values_supported: ['ES256'],
      subject_types_supported: ['public'],
    });
  });
  app.get('/jwks', (_req, res) => void res.json({ keys: [jwk] }));

  app.get('/authorize', (req, res) => {
    const q = (name: string) => (typeof req.query[name] === 'string' ? req.query[name] : undefined);
    const client = clients.get(q('client_id') ?? '');
    const redirectUri = q('redirect_uri') ?? '';
    // Never redirect to a URI the client did not register (RFC 6749 §4.1.2.1): answer here.
    if (!client?.redirectUris.includes(redirectUri)) return void res.status(400).send('unknown client or redirect_uri');
    const back = (params: Record<string, string>) => {
      const url = new URL(redirectUri);
      for (const [k, v] of Object.entries({ ...params, ...(q('state') ? { state: q('state')! } : {}) })) url.searchParams.set(k, v);
      local.tamper?.(url);
      res.redirect(302, url.href);
    };
    if (q('response_type') !== 'code' || !(q('scope') ?? '').split(' ').includes('openid')) return back({ error: 'invalid_request' });
    if (q('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(q('code_challenge') ?? ''))
      return back({ error: 'invalid_request', error_description: 'S256 PKCE required' });
    if (!local.signInAs) return back({ error: 'access_denied' });
    const code = randomBytes(32).toString('base64url');
    codes.set(code, {
      clientId: client.clientId,
      redirectUri,
      challenge: q('code_challenge')!,
      nonce: q('nonce'),
      claims: local.signInAs,
      expiresAt: Date.now() + CODE_TTL_MS,
      used: false,
    });
    back({ code });
  });

  app.post('/token', express.urlencoded({ extended: false }), async (req: Request, res: Response) => {
    if (local.tokenEndpointDown) return void res.status(503).end();
    const refuse = (status: number, error: string, why: string) => {
      local.refusals.push(`${error}: ${why}`);
      res.status(status).json({ error, error_description: why });
    };
    const body = req.body as Record<string, string | undefined>;
    let clientId = body.client_id;
    let secret = body.client_secret;
    const basic = /^Basic (.+)$/.exec(req.get('authorization') ?? '');
    if (basic) {
      const [id, pass] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':').map(decodeURIComponent);
      [clientId, secret] = [id, pass];
    }
    const client = clients.get(clientId ?? '');
    if (!client) return refuse(401, 'invalid_client', 'unknown client');
    if (client.clientSecret !== undefined && (secret === undefined || !sameSecret(secret, client.clientSecret)))
      return refuse(401, 'invalid_client', 'client authentication failed');
    if (body.grant_type !== 'authorization_code') return refuse(400, 'unsupported_grant_type', String(body.grant_type));
    const issued = codes.get(body.code ?? '');
    if (!issued) return refuse(400, 'invalid_grant', 'unknown code');
    if (issued.used) return refuse(400, 'invalid_grant', 'code already used');
    // Spent by the first attempt, right or wrong: a stolen code gets one guess at the verifier.
    issued.used = true;
    if (issued.expiresAt < Date.now()) return refuse(400, 'invalid_grant', 'code expired');
    if (issued.clientId !== client.clientId) return refuse(400, 'invalid_grant', 'code issued to another client');
    if (issued.redirectUri !== body.redirect_uri) return refuse(400, 'invalid_grant', 'redirect_uri differs');
    if (!body.code_verifier || s256(body.code_verifier) !== issued.challenge)
      return refuse(400, 'invalid_grant', 'PKCE verification failed');
    const nonce = local.forgeIdToken?.nonce ?? issued.nonce;
    const claims = { ...issued.claims, ...(nonce ? { nonce } : {}) };
    res.set('cache-control', 'no-store').json({
      token_type: 'Bearer',
      expires_in: 300,
      access_token: await local.token(issued.claims),
      id_token: await sign(claims, client.clientId, local.forgeIdToken?.key ?? pair.privateKey, issuer, '5m'),
    });
  });
  return local;
}
