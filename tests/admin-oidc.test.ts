import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOidcTokenError, OidcUnavailableError, OidcVerifier } from '../src/admin/oidc.ts';
import { startTestDaemon, uniqueSubject, type TestDaemon } from './helpers/admin-daemon.ts';
import { startLocalIssuer, type LocalIssuer } from './helpers/oidc-issuer.ts';

let local: LocalIssuer;
let issuer: string;
let t: TestDaemon;

const roles = { viewer: ['sec-viewers'], operator: ['sec-ops'] };

beforeAll(async () => {
  local = await startLocalIssuer();
  issuer = local.issuer;
  t = await startTestDaemon({ auth: { oidc: { issuer, audience: 'deprovisiond', roleClaim: 'groups', roles } } });
});
afterAll(async () => {
  await t?.stop();
  await local?.close();
});

const token = (claims: Record<string, unknown>, options?: Parameters<LocalIssuer['token']>[1]) => local.token(claims, options);

describe('admin API with OIDC access tokens', () => {
  it('answers 503 while the issuer cannot be discovered, and recovers once it can', async () => {
    local.discoveryDown = true;
    const jwt = await token({ groups: ['sec-viewers'] });
    const down = await t.api('GET', '/admin/v1/terminations', { token: jwt });
    expect(down.status).toBe(503);
    expect(down.body.error).toBe('identity provider unavailable, retry later');
    local.discoveryDown = false;
    expect((await t.api('GET', '/admin/v1/terminations', { token: jwt })).status).toBe(200);
  });

  it('lets a viewer read and refuses its writes', async () => {
    const jwt = await token({ sub: 'val', groups: ['sec-viewers', 'everyone'] });
    expect((await t.api('GET', '/admin/v1/terminations', { token: jwt })).status).toBe(200);
    const res = await t.api('POST', '/admin/v1/terminations', { token: jwt, body: { subject: uniqueSubject('oidc-viewer') } });
    expect(res.status).toBe(403);
  });

  it('lets an operator write, audited as oidc:<sub>', async () => {
    const jwt = await token({ sub: 'olga', groups: 'sec-ops' });
    const res = await t.api('POST', '/admin/v1/terminations', {
      token: jwt,
      body: { subject: uniqueSubject('oidc-op'), effectiveAt: new Date(Date.now() + 3_600_000).toISOString() },
    });
    expect(res.status).toBe(201);
    expect(res.body.termination.createdBy).toBe('oidc:olga');
    const cancel = await t.api('POST', `/admin/v1/terminations/${res.body.terminationId}/cancel`, { token: jwt, body: { reason: 'test' } });
    expect(cancel.status).toBe(200);
    const audit = (await t.daemon.store.listAudit(0, 10_000)).filter((e) => e.terminationId === res.body.terminationId);
    expect(audit.map((e) => `${e.action}:${e.actor}`)).toEqual(['termination.created:oidc:olga', 'termination.cancelled:oidc:olga']);
  });

  it('refuses a valid token that carries no configured role with 403', async () => {
    const res = await t.api('GET', '/admin/v1/terminations', { token: await token({ groups: ['everyone'] }) });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('token carries no admin role');
  });

  it('refuses tokens with the wrong audience, issuer, key, or an expired one with 401', async () => {
    const claims = { groups: ['sec-ops'] };
    const bad = [
      await token(claims, { audience: 'someone-else' }),
      await token(claims, { issuer: 'https://evil.example.com' }),
      await token(claims, { key: local.strangerKey }),
      await token(claims, { expiresIn: Math.floor(Date.now() / 1000) - 120 }),
      'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln',
    ];
    for (const jwt of bad) {
      const res = await t.api('GET', '/admin/v1/terminations', { token: jwt });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });
});

describe('OidcVerifier', () => {
  it('reports an unreachable issuer or a discovery document for another issuer as unavailable, not invalid', async () => {
    const closed = express().listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = new OidcVerifier({ issuer: `http://127.0.0.1:${port}`, audience: 'a', roleClaim: 'roles', roles }, 1000);
    await expect(unreachable.verify(await token({}))).rejects.toBeInstanceOf(OidcUnavailableError);

    const mismatched = new OidcVerifier({ issuer: `${issuer}/other`, audience: 'a', roleClaim: 'roles', roles }, 1000);
    await expect(mismatched.verify(await token({}))).rejects.toBeInstanceOf(OidcUnavailableError);

    const verifier = new OidcVerifier({ issuer, audience: 'deprovisiond', roleClaim: 'roles', roles }, 1000);
    await expect(verifier.verify(await token({}, { audience: 'x' }))).rejects.toBeInstanceOf(InvalidOidcTokenError);
    await expect(verifier.verify(await token({ roles: ['sec-ops', 'sec-viewers'] }))).resolves.toEqual({
      subject: 'alice',
      role: 'operator',
    });
  });
});
