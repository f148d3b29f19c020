/**
 * Console sign-in through the configured issuer: a pasted OIDC access token, or the
 * authorization code flow with PKCE against a local authorization server
 * (tests/helpers/oidc-issuer.ts). The role claim decides what the session may do.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/schema.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import { createLogger } from '../src/telemetry/logger.ts';
import { startLocalIssuer, type LocalIssuer } from './helpers/oidc-issuer.ts';
import { createTestModule, inlineAttemptsIn } from './helpers/test-module.ts';

let local: LocalIssuer;
let daemon: Daemon;
let dir: string;
const logs: string[] = [];
const CLIENT_SECRET = `client-secret-${randomBytes(8).toString('hex')}`;

beforeAll(async () => {
  local = await startLocalIssuer();
  dir = mkdtempSync(join(tmpdir(), 'console-oidc-'));
  const config = configSchema.parse({
    server: { port: 0 },
    store: { sqlite: { path: join(dir, 'store.db') } },
    auth: {
      oidc: {
        issuer: local.issuer,
        audience: 'deprovisiond',
        roleClaim: 'groups',
        roles: { viewer: ['sec-viewers'], operator: ['sec-ops'] },
        console: { clientId: 'console', clientSecret: CLIENT_SECRET },
      },
    },
    providers: { idp: { kind: 'fake' } },
    playbooks: { employee: { steps: [{ id: 'revoke', provider: 'idp', action: 'revoke_sessions' }] } },
    defaultPlaybook: 'employee',
  });
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(line) } });
  daemon = await startDaemon(inlineAttemptsIn(config), { configFile: 'console-oidc.yaml', logger, modules: createTestModule().modules });
  local.register({ clientId: 'console', clientSecret: CLIENT_SECRET, redirectUris: [`${daemon.url}/console/login/callback`] });
});
afterAll(async () => {
  await daemon?.stop();
  rmSync(dir, { recursive: true, force: true });
  await local?.close();
});

const signIn = (token: string) =>
  fetch(`${daemon.url}/console/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });

describe('console sign-in with OIDC', () => {
  it('opens a session for a token with an operator group, named after its subject', async () => {
    const res = await signIn(await local.token({ sub: 'grace', groups: ['sec-ops'] }));
    expect(res.status).toBe(303);
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    expect(await (await fetch(`${daemon.url}/console/session`, { headers: { cookie } })).json()).toMatchObject({
      actor: 'oidc:grace',
      role: 'operator',
    });
  });

  it('refuses a token without an admin group (403), one signed by another key (401), and says so on the page', async () => {
    const roleless = await signIn(await local.token({ groups: ['everyone'] }));
    expect(roleless.status).toBe(403);
    expect(await roleless.text()).toContain('grants no console role');
    const forged = await signIn(await local.token({ groups: ['sec-ops'] }, { key: local.strangerKey }));
    expect(forged.status).toBe(401);
    expect(forged.headers.get('set-cookie')).toBeNull();
  });
});

/** The browser's part up to the issuer's redirect back: the sign-in cookie and the callback URL with code and state. */
async function atIssuer(): Promise<{ cookie: string; setCookie: string; authorize: URL; callback: URL }> {
  const start = await fetch(`${daemon.url}/console/login/oidc`, { redirect: 'manual' });
  expect(start.status).toBe(303);
  const setCookie = start.headers.get('set-cookie')!;
  const authorize = new URL(start.headers.get('location')!);
  const back = await fetch(authorize, { redirect: 'manual' });
  expect(back.status).toBe(302);
  return { cookie: setCookie.split(';')[0]!, setCookie, authorize, callback: new URL(back.headers.get('location')!) };
}

const callback = (url: URL, cookie?: string) => fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
/** The session the callback's answer opened, as /console/session describes it. */
const sessionOf = async (res: Response) => {
  const cookie = res.headers
    .getSetCookie()
    .find((c) => c.startsWith('deprovisiond_console='))!
    .split(';')[0]!;
  return (await fetch(`${daemon.url}/console/session`, { headers: { cookie } })).json();
};

describe('console sign-in with the authorization code flow and PKCE', () => {
  it('answers 503 with a fixed sentence while discovery fails, and works once the issuer is back', async () => {
    local.discoveryDown = true;
    const down = await fetch(`${daemon.url}/console/login/oidc`, { redirect: 'manual' });
    local.discoveryDown = false;
    expect(down.status).toBe(503);
    expect(await down.text()).toContain('The identity provider is unavailable; try again shortly.');
    expect(down.headers.get('set-cookie')).toBeNull();
    expect((await fetch(`${daemon.url}/console/login/oidc`, { redirect: 'manual' })).status).toBe(303);
  });

  it('offers "Sign in with" the issuer on the login page', async () => {
    const page = await (await fetch(`${daemon.url}/console/login`)).text();
    expect(page).toContain(`<a class="button primary" id="oidc" href="/console/login/oidc">Sign in with ${new URL(local.issuer).host}</a>`);
  });

  it('sends the browser to the issuer with an S256 challenge, state and nonce, and signs in the operator it names', async () => {
    local.signInAs = { sub: 'grace', groups: ['sec-ops'] };
    const { setCookie, cookie, authorize, callback: back } = await atIssuer();
    expect(setCookie).toMatch(
      /^deprovisiond_console_login=[A-Za-z0-9_-]{43}; Max-Age=600; Path=\/console\/login\/callback; Expires=[^;]+; HttpOnly; SameSite=Lax$/,
    );
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${local.issuer}/authorize`);
    expect(Object.fromEntries(authorize.searchParams)).toEqual({
      client_id: 'console',
      response_type: 'code',
      redirect_uri: `${daemon.url}/console/login/callback`,
      scope: 'openid profile email',
      code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      code_challenge_method: 'S256',
      state: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      nonce: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    const res = await callback(back, cookie);
    expect(res.status).toBe(200);
    const cookies = res.headers.getSetCookie();
    expect(cookies).toContainEqual(
      expect.stringMatching(
        /^deprovisiond_console=[A-Za-z0-9_-]{43}; Max-Age=28800; Path=\/console; Expires=[^;]+; HttpOnly; SameSite=Strict$/,
      ),
    );
    // The sign-in cookie is spent.
    expect(cookies).toContainEqual(
      expect.stringMatching(/^deprovisiond_console_login=; Path=\/console\/login\/callback; Expires=Thu, 01 Jan 1970/),
    );
    expect(await res.text()).toContain('<meta http-equiv="refresh" content="0;url=/console/">');
    expect(await sessionOf(res)).toMatchObject({ actor: 'oidc:grace', role: 'operator' });
  });

  it('gives a viewer group a viewer session', async () => {
    local.signInAs = { sub: 'ian', groups: ['sec-viewers', 'everyone'] };
    const { cookie, callback: back } = await atIssuer();
    const res = await callback(back, cookie);
    expect(res.status).toBe(200);
    expect(await sessionOf(res)).toMatchObject({ actor: 'oidc:ian', role: 'viewer' });
  });

  it('refuses a callback whose state is not the one it sent, before redeeming the code', async () => {
    local.signInAs = { sub: 'grace', groups: ['sec-ops'] };
    const { cookie, callback: back } = await atIssuer();
    const forged = new URL(back);
    forged.searchParams.set('state', 'attacker-state-1234567890');
    const refusals = local.refusals.length;
    const res = await callback(forged, cookie);
    expect(res.status).toBe(401);
    expect(res.headers.getSetCookie().some((c) => c.startsWith('deprovisiond_console='))).toBe(false);
    const page = await res.text();
    expect(page).toContain('That sign-in could not be completed. Start again with the button below.');
    expect(page).not.toContain('attacker-state');
    expect(local.refusals.length).toBe(refusals);
    // The sign-in was spent by the forged callback: the genuine one no longer completes.
    expect((await callback(back, cookie)).status).toBe(401);
  });

  it('refuses a replayed code: with the spent sign-in, and in a sign-in started afresh', async () => {
    local.signInAs = { sub: 'grace', groups: ['sec-ops'] };
    const first = await atIssuer();
    expect((await callback(first.callback, first.cookie)).status).toBe(200);
    const again = await callback(first.callback, first.cookie);
    expect(again.status).toBe(401);
    expect(await again.text()).toContain('That sign-in was not started here, was already used, or took too long.');
    // An attacker holding the code starts a sign-in of their own and hands the code in with their state.
    const second = await atIssuer();
    const replay = new URL(first.callback);
    replay.searchParams.set('state', second.callback.searchParams.get('state')!);
    const replayed = await callback(replay, second.cookie);
    expect(replayed.status).toBe(401);
    expect(local.refusals.at(-1)).toBe('invalid_grant: code already used');
    expect(replayed.headers.getSetCookie().some((c) => c.startsWith('deprovisiond_console='))).toBe(false);
  });

  it('refuses a callback without the sign-in cookie (a code carried to another browser)', async () => {
    local.signInAs = { sub: 'grace', groups: ['sec-ops'] };
    const { callback: back } = await atIssuer();
    const res = await callback(back);
    expect(res.status).toBe(401);
    expect(res.headers.getSetCookie().some((c) => c.startsWith('deprovisiond_console='))).toBe(false);
  });

  it('refuses a code redeemed with another verifier (PKCE): the issuer says so', async () => {
    local.signInAs = { sub: 'grace', groups: ['sec-ops'] };
    const mine = await atIssuer();
    const theirs = await atIssuer();
    // Their code with my state and my cookie: my verifier does not match their challenge.
    const swapped = new URL(theirs.callback);
    swapped.searchParams.set('state', mine.callback.searchParams.get('state')!);
    expect((await callback(swapped, mine.cookie)).status).toBe(401);
    expect(local.refusals.at(-1)).toBe('invalid_grant: PKCE verification failed');
  });

  it('refuses an ID token signed by a key the issuer does not publish, or carrying another nonce', async () => {
    local.signInAs = { sub: 'grace', groups: ['sec-ops'] };
    for (const forged of [{ key: local.strangerKey }, { nonce: 'a-nonce-from-another-sign-in' }]) {
      const { cookie, callback: back } = await atIssuer();
      local.forgeIdToken = forged;
      const res = await callback(back, cookie);
      local.forgeIdToken = null;
      expect(res.status, JSON.stringify(Object.keys(forged))).toBe(401);
      expect(res.headers.getSetCookie().some((c) => c.startsWith('deprovisiond_console='))).toBe(false);
    }
  });

  it('says the user was refused at the issuer, without echoing what the callback carried', async () => {
    local.signInAs = null;
    const { cookie, callback: back } = await atIssuer();
    expect(back.searchParams.get('error')).toBe('access_denied');
    back.searchParams.set('error_description', '<script>alert("evil")</script>');
    const res = await callback(back, cookie);
    expect(res.status).toBe(401);
    const page = await res.text();
    expect(page).toContain('The identity provider did not sign you in (refused or cancelled there).');
    expect(page).not.toContain('evil');
  });

  it('refuses someone with no console group (403), and answers 503 when the token endpoint is down', async () => {
    local.signInAs = { sub: 'mallory', groups: ['everyone'] };
    const roleless = await atIssuer();
    const res = await callback(roleless.callback, roleless.cookie);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('nothing grants you a console role');

    local.signInAs = { sub: 'grace', groups: ['sec-ops'] };
    const { cookie, callback: back } = await atIssuer();
    local.tokenEndpointDown = true;
    const down = await callback(back, cookie);
    local.tokenEndpointDown = false;
    expect(down.status).toBe(503);
    expect(await down.text()).toContain('The identity provider is unavailable; try again shortly.');
  });

  it('logged neither the client secret nor a code', () => {
    const text = logs.join('\n');
    expect(text).not.toContain(CLIENT_SECRET);
    expect(text).not.toMatch(/code=[A-Za-z0-9_-]{43}/);
  });
});

describe('auth.oidc.console in the config', () => {
  const parse = (console: unknown) =>
    configSchema.safeParse({
      store: { sqlite: { path: 'store.db' } },
      auth: { oidc: { issuer: 'https://idp.example.com', audience: 'deprovisiond', console } },
      providers: { idp: { kind: 'fake' } },
      playbooks: { employee: { steps: [{ id: 'revoke', provider: 'idp', action: 'revoke_sessions' }] } },
      defaultPlaybook: 'employee',
    });
  const problems = (console: unknown) => {
    const result = parse(console);
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('takes a public client with defaults, or a confidential one with its redirect URI', () => {
    const publicClient = parse({ clientId: 'console' });
    expect(publicClient.success && publicClient.data.auth.oidc?.console).toEqual({
      clientId: 'console',
      scopes: ['openid', 'profile', 'email'],
    });
    expect(
      problems({
        clientId: 'console',
        clientSecret: 's',
        redirectUri: 'https://deprovisiond.example.com/console/login/callback',
        scopes: ['openid', 'groups'],
      }),
    ).toEqual([]);
  });

  it('refuses a redirect URI elsewhere than the callback or over plain http, scopes without openid, and unknown keys', () => {
    expect(problems({ clientId: 'console', redirectUri: 'https://deprovisiond.example.com/elsewhere' })).toEqual([
      'auth.oidc.console.redirectUri: expected a URL whose path is /console/login/callback',
    ]);
    expect(problems({ clientId: 'console', redirectUri: 'http://deprovisiond.example.com/console/login/callback' })).toEqual([
      'auth.oidc.console.redirectUri: expected an https URL (http only on loopback)',
    ]);
    expect(problems({ clientId: 'console', scopes: ['profile'] })).toEqual(['auth.oidc.console.scopes: must include openid']);
    expect(problems({ clientId: 'console', scopes: ['openid', 'a b'] })).toEqual([
      'auth.oidc.console.scopes.1: a scope is printable ASCII without spaces, quotes or backslashes',
    ]);
    expect(problems({ clientId: 'console', secret: 'x' })).toHaveLength(1);
    expect(problems({})).toHaveLength(1);
  });
});
