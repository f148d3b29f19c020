/** A local OIDC issuer for tests: discovery document and JWKS on 127.0.0.1, switchable off, and a token minter. */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';

export interface LocalIssuer {
  issuer: string;
  /** A key the issuer does not publish: its tokens must be refused. */
  strangerKey: CryptoKey;
  /** While true, discovery answers 503. */
  discoveryDown: boolean;
  token(claims: Record<string, unknown>, options?: { key?: CryptoKey; audience?: string; issuer?: string; expiresIn?: string | number }): Promise<string>;
  close(): Promise<void>;
}

export async function startLocalIssuer(audience = 'deprovisiond'): Promise<LocalIssuer> {
  const pair = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const app = express();
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const local: LocalIssuer = {
    issuer,
    strangerKey: (await generateKeyPair('ES256')).privateKey,
    discoveryDown: false,
    token: (claims, options = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setSubject(String(claims.sub ?? 'alice'))
        .setIssuer(options.issuer ?? issuer)
        .setAudience(options.audience ?? audience)
        .setIssuedAt()
        .setExpirationTime(options.expiresIn ?? '5m')
        .sign(options.key ?? pair.privateKey),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  app.get('/.well-known/openid-configuration', (_req, res) => {
    if (local.discoveryDown) return void res.status(503).end();
    res.json({ issuer, jwks_uri: `${issuer}/jwks` });
  });
  app.get('/jwks', (_req, res) => void res.json({ keys: [jwk] }));
  return local;
}
