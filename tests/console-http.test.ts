/** The console's HTTP surface: sign-in, the session cookie's flags, CSRF on writes, the CSP, roles. */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsoleRouter } from '../src/console/router.ts';
import { createApp } from '../src/server/app.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { CONSOLE_OPERATOR, CONSOLE_VIEWER, startConsoleDaemon, type ConsoleDaemon } from './helpers/console-daemon.ts';

let c: ConsoleDaemon;
beforeAll(async () => {
  c = await startConsoleDaemon();
});
afterAll(async () => {
  await c?.stop();
});

const url = (path: string) => `${c.daemon.url}${path}`;

async function signIn(token: string): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const res = await fetch(url('/console/login'), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toBe('/console/');
  const setCookie = res.headers.get('set-cookie')!;
  const cookie = setCookie.split(';')[0]!;
  const session = await (await fetch(url('/console/session'), { headers: { cookie } })).json();
  return { cookie, csrf: session.csrf, setCookie };
}

describe('console over HTTP', () => {
  it('sends / and an unsigned-in /console/ to the sign-in page, with a strict CSP', async () => {
    expect((await fetch(url('/'), { redirect: 'manual' })).headers.get('location')).toBe('/console/');
    const app = await fetch(url('/console/'), { redirect: 'manual' });
    expect(app.status).toBe(302);
    expect(app.headers.get('location')).toBe('/console/login');
    const login = await fetch(url('/console/login'));
    expect(login.headers.get('content-security-policy')).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    expect(await login.text()).not.toMatch(/<script(?![^>]*\bsrc=)/);
  });

  it('serves its own assets only: a name inherited from Object.prototype is a 404, not a 500', async () => {
    expect((await fetch(url('/console/assets/app.js'))).status).toBe(200);
    // The legal holds' views, a module app.js imports: served as JavaScript, or the browser refuses it.
    const holds = await fetch(url('/console/assets/holds.js'));
    expect(holds.status).toBe(200);
    expect(holds.headers.get('content-type')).toMatch(/^text\/javascript/);
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'nope.js']) {
      const res = await fetch(url(`/console/assets/${name}`));
      expect(res.status, name).toBe(404);
    }
  });

  it('answers a wrong token 401 with the form again, sets no cookie and logs no token', async () => {
    const res = await fetch(url('/console/login'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: `${CONSOLE_OPERATOR}x` }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('set-cookie')).toBeNull();
    const page = await res.text();
    expect(page).toContain('That token was not accepted');
    expect(page).not.toContain(CONSOLE_OPERATOR);
    expect(c.logs.join('\n')).not.toContain(CONSOLE_OPERATOR);
  });

  it('gives an HttpOnly, SameSite=Strict cookie scoped to /console, and the session says who and which role', async () => {
    const { cookie, setCookie } = await signIn(CONSOLE_VIEWER);
    expect(setCookie).toMatch(
      /^deprovisiond_console=[A-Za-z0-9_-]{43}; Max-Age=28800; Path=\/console; Expires=[^;]+; HttpOnly; SameSite=Strict$/,
    );
    const session = await (await fetch(url('/console/session'), { headers: { cookie } })).json();
    expect(session).toEqual({ actor: 'admin:auditor', role: 'viewer', csrf: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
  });

  it('refuses a write without the CSRF token, and a viewer write with it', async () => {
    const operator = await signIn(CONSOLE_OPERATOR);
    const post = (who: { cookie: string }, csrf?: string) =>
      fetch(url('/console/api/terminations/approve-held'), {
        method: 'POST',
        headers: { cookie: who.cookie, 'content-type': 'application/json', ...(csrf ? { 'x-csrf-token': csrf } : {}) },
        body: '{"all":true}',
      });
    const noCsrf = await post(operator);
    expect(noCsrf.status).toBe(403);
    expect((await noCsrf.json()).error).toBe('missing or wrong CSRF token: reload the page');
    expect((await post(operator, 'x'.repeat(43))).status).toBe(403);
    expect((await post(operator, operator.csrf)).status).toBe(200);
    const viewer = await signIn(CONSOLE_VIEWER);
    const refused = await post(viewer, viewer.csrf);
    expect(refused.status).toBe(403);
    expect((await refused.json()).error).toBe('operator role required');
  });

  it('reads through the admin API with the cookie only, and not at all after sign-out', async () => {
    const { cookie, csrf } = await signIn(CONSOLE_VIEWER);
    expect((await fetch(url('/console/api/terminations'), { headers: { cookie } })).status).toBe(200);
    const { termination } = await c.daemon.terminations.submit({
      source: 'admin',
      subject: { externalId: 'E-console-http', emails: [] },
      actor: 'admin:ops',
    });
    const page = await fetch(url(`/console/api/terminations/${termination.id}/evidence?format=html`), { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect((await fetch(url('/console/logout'), { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } })).status).toBe(204);
    const after = await fetch(url('/console/api/terminations'), { headers: { cookie } });
    expect(after.status).toBe(401);
    // The admin API itself still wants its bearer token: the console cookie opens nothing there.
    expect((await fetch(url('/admin/v1/terminations'), { headers: { cookie } })).status).toBe(401);
  });
});

/** A throwaway self-signed certificate for 127.0.0.1, made by the openssl CLI. */
function selfSignedCertificate(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'console-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the session cookie and TLS', () => {
  it('has no Secure flag over plain HTTP, even when the request claims X-Forwarded-Proto: https (no proxy is trusted)', async () => {
    const res = await fetch(url('/console/login'), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-proto': 'https', forwarded: 'proto=https' },
      body: new URLSearchParams({ token: CONSOLE_VIEWER }),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).toMatch(
      /^deprovisiond_console=[A-Za-z0-9_-]{43}; Max-Age=28800; Path=\/console; Expires=[^;]+; HttpOnly; SameSite=Strict$/,
    );
  });

  it('is Secure when the console is served over https', async () => {
    const { key, cert } = selfSignedCertificate();
    const deps = {
      config: c.config,
      store: c.daemon.store,
      terminations: c.daemon.terminations,
      logger: silentLogger(),
      now: () => new Date(),
    };
    const app = createApp({
      config: c.config,
      logger: silentLogger(),
      metrics: new Registry(),
      ready: () => true,
      routers: [{ path: '/', router: buildConsoleRouter(deps) }],
    });
    const server = createServer({ key, cert }, app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const body = new URLSearchParams({ token: CONSOLE_VIEWER }).toString();
      const answer = await new Promise<{ status: number; setCookie: string[] }>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: (server.address() as AddressInfo).port,
            path: '/console/login',
            method: 'POST',
            ca: cert,
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            res.resume();
            resolve({ status: res.statusCode!, setCookie: res.headers['set-cookie'] ?? [] });
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      expect(answer.status).toBe(303);
      expect(answer.setCookie).toEqual([
        expect.stringMatching(
          /^deprovisiond_console=[A-Za-z0-9_-]{43}; Max-Age=28800; Path=\/console; Expires=[^;]+; HttpOnly; Secure; SameSite=Strict$/,
        ),
      ]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
