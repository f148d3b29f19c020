/** Console sign-in with an OIDC access token from the configured issuer: its role claim decides what the session may do. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/schema.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { startLocalIssuer, type LocalIssuer } from './helpers/oidc-issuer.ts';
import { createTestModule, inlineAttemptsIn } from './helpers/test-module.ts';

let local: LocalIssuer;
let daemon: Daemon;
let dir: string;

beforeAll(async () => {
  local = await startLocalIssuer();
  dir = mkdtempSync(join(tmpdir(), 'console-oidc-'));
  const config = configSchema.parse({
    server: { port: 0 },
    store: { sqlite: { path: join(dir, 'store.db') } },
    auth: { oidc: { issuer: local.issuer, audience: 'deprovisiond', roleClaim: 'groups', roles: { viewer: ['sec-viewers'], operator: ['sec-ops'] } } },
    providers: { idp: { kind: 'fake' } },
    playbooks: { employee: { steps: [{ id: 'revoke', provider: 'idp', action: 'revoke_sessions' }] } },
    defaultPlaybook: 'employee',
  });
  daemon = await startDaemon(inlineAttemptsIn(config), { configFile: 'console-oidc.yaml', logger: silentLogger(), modules: createTestModule().modules });
});
afterAll(async () => {
  await daemon?.stop();
  rmSync(dir, { recursive: true, force: true });
  await local?.close();
});

const signIn = (token: string) =>
  fetch(`${daemon.url}/console/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }) });

describe('console sign-in with OIDC', () => {
  it('opens a session for a token with an operator group, named after its subject', async () => {
    const res = await signIn(await local.token({ sub: 'grace', groups: ['sec-ops'] }));
    expect(res.status).toBe(303);
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    expect(await (await fetch(`${daemon.url}/console/session`, { headers: { cookie } })).json()).toMatchObject({ actor: 'oidc:grace', role: 'operator' });
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
