/**
 * Secrets and access.
 *
 * 1. A full run of `deprovisiond serve` (a child process, LOG_LEVEL=debug) with known secret
 *    values in its config: admin tokens, the SCIM token, the webhook secret and the provider
 *    credentials (Okta API token, Google access token, Microsoft client secret, Slack's Web API
 *    and SCIM tokens). The run
 *    covers successes, provider faults (retries), and callers sending secrets to the wrong
 *    door, in query strings and in broken bodies. No secret may appear in the child's
 *    stdout/stderr, any response (bodies and headers), /metrics, the audit log, any table
 *    of the store, or the evidence documents (JSON and HTML). `config check` on an invalid
 *    config does not echo the value either.
 * 2. Every route except /healthz and /readyz refuses requests without valid credentials:
 *    the express routes (enumerated from the routers the daemon mounts) and every path of
 *    the OpenAPI document; credentials of one door do not open another; viewers cannot write.
 * 3. Token comparison is constant-time: src/server/tokens.ts hashes both sides to fixed-length
 *    digests and compares with timingSafeEqual without an early exit, and every bearer-token
 *    check in src/ goes through it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Router } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRouters } from '../src/server/routes.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { OPERATOR_TOKEN, VIEWER_TOKEN, WEBHOOK_SECRETS, startTestDaemon, type TestDaemon } from './helpers/admin-daemon.ts';
import { spawnDaemon, spawnSandboxes, type DaemonProcess, type SandboxProcess } from './helpers/processes.ts';
import { PATCH_OP, SCIM_JSON, USER_SCHEMA, request, signedWebhook, waitFor, type HttpAnswer } from './helpers/reliability.ts';

const ROOT = join(import.meta.dirname, '..');

const SECRETS = {
  viewerToken: 'viewer-tok-Zq8LmV3xR7pW2nK5',
  operatorToken: 'operator-tok-Hy6TbN1cJ9sF4dQ0',
  scimToken: 'scim-tok-Pw3XkE8vL2mR6tY1',
  webhookSecret: 'whsec_c2VjcmV0LXdlYmhvb2sta2V5LUs3bU4wcVI1dFc4',
};

describe('no secret leaks from a full run', () => {
  let dir: string;
  let sandboxes: SandboxProcess | undefined;
  let daemon: DaemonProcess | undefined;
  const secrets = new Map<string, string>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-secrets-'));
    sandboxes = await spawnSandboxes(['--kinds', 'okta,google,microsoft,slack,aws']);
    const s = sandboxes.sandboxes;
    for (const [name, value] of Object.entries(SECRETS)) secrets.set(name, value);
    // The webhook key is the base64 after whsec_: it must not leak on its own either.
    secrets.set('webhookSecret (key part)', SECRETS.webhookSecret.slice('whsec_'.length));
    // Provider credentials, whatever each kind calls them.
    for (const [kind, info] of Object.entries(s)) {
      for (const [key, value] of Object.entries(info.settings)) {
        if (/token|secret|key|password/i.test(key) && typeof value === 'string') secrets.set(`${kind}.${key}`, value);
      }
    }
    // Slack's SCIM token sits one level down.
    const slackScim = s.slack!.settings.scim as { token: string };
    secrets.set('slack.scim.token', slackScim.token);
    // AWS's key pair too: the secret signs every request and must never be written anywhere.
    const awsCredentials = s.aws!.settings.credentials as { secretAccessKey: string };
    secrets.set('aws.credentials.secretAccessKey', awsCredentials.secretAccessKey);
    expect([...secrets.keys()]).toEqual(
      expect.arrayContaining([
        'okta.token',
        'google.accessToken',
        'microsoft.clientSecret',
        'slack.token',
        'slack.scim.token',
        'aws.credentials.secretAccessKey',
      ]),
    );
    const config = {
      server: { host: '127.0.0.1', port: 0, bodyLimit: '16kb' },
      store: { sqlite: { path: join(dir, 'store.db') } },
      auth: {
        admin: [
          { name: 'watcher', token: SECRETS.viewerToken, role: 'viewer' },
          { name: 'ops', token: SECRETS.operatorToken, role: 'operator' },
        ],
        scim: [SECRETS.scimToken],
        webhook: [SECRETS.webhookSecret],
      },
      engine: {
        lease: '5s',
        attemptTimeout: '2s',
        retry: { baseDelay: '20ms', maxDelay: '100ms', maxAttempts: 30, maxRetryAfter: '100ms' },
      },
      providers: {
        okta: { kind: 'okta', ...s.okta!.settings },
        google: { kind: 'google', ...s.google!.settings },
        microsoft: { kind: 'microsoft', ...s.microsoft!.settings },
        slack: { kind: 'slack', ...s.slack!.settings },
        aws: { kind: 'aws', ...s.aws!.settings },
      },
      playbooks: {
        leaver: {
          steps: [
            { id: 'okta-revoke', provider: 'okta', action: 'revoke_sessions' },
            { id: 'okta-suspend', provider: 'okta', action: 'disable_account', params: { mode: 'suspend' } },
            { id: 'google-revoke', provider: 'google', action: 'revoke_sessions' },
            { id: 'google-suspend', provider: 'google', action: 'disable_account' },
            { id: 'microsoft-revoke', provider: 'microsoft', action: 'revoke_sessions' },
            { id: 'microsoft-disable', provider: 'microsoft', action: 'disable_account' },
            { id: 'slack-revoke', provider: 'slack', action: 'revoke_sessions' },
            { id: 'slack-disable', provider: 'slack', action: 'disable_account' },
            { id: 'aws-revoke', provider: 'aws', action: 'revoke_credentials' },
            { id: 'aws-remove-groups', provider: 'aws', action: 'remove_groups' },
          ],
        },
      },
      defaultPlaybook: 'leaver',
    };
    writeFileSync(join(dir, 'config.yaml'), JSON.stringify(config, null, 2));
    daemon = await spawnDaemon(join(dir, 'config.yaml'), { LOG_LEVEL: 'debug' });
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop('SIGTERM', 3_000);
    await sandboxes?.stop('SIGTERM', 2_000);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('keeps every secret out of logs, answers, metrics, audit, store and evidence', async () => {
    const url = daemon!.url;
    const answers: Array<{ what: string; path: string; answer: HttpAnswer }> = [];
    const call = async (what: string, path: string, init: RequestInit = {}) => {
      const answer = await request(`${url}${path}`, init);
      answers.push({ what, path, answer });
      return answer;
    };
    const admin = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
    const scim = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': SCIM_JSON });

    // Provider faults for part of the run: retries, error logs, error evidence.
    for (const info of Object.values(sandboxes!.sandboxes)) {
      await request(`${info.url}/__sandbox/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ errorRate: 0.3, rateLimitRate: 0.1, rateLimitRetryAfterMs: 10, lyingRate: 0.1 }),
      });
    }

    // The three doors, used properly.
    const terminationIds: string[] = [];
    const body = JSON.stringify({
      subject: { userName: 'leak.hook@example.com', emails: ['leak.hook@example.com'] },
      reason: 'secrets test',
    });
    const hook = await call('webhook', '/webhooks/termination', {
      method: 'POST',
      headers: signedWebhook(SECRETS.webhookSecret, 'msg_secret_1', body),
      body,
    });
    expect(hook.status, hook.text).toBe(201);
    terminationIds.push(hook.body.terminationId);
    const created = await call('admin create', '/admin/v1/terminations', {
      method: 'POST',
      headers: admin(SECRETS.operatorToken),
      body: JSON.stringify({ subject: { userName: 'leak.admin@example.com', emails: ['leak.admin@example.com'] } }),
    });
    expect(created.status, created.text).toBe(201);
    terminationIds.push(created.body.terminationId);
    // A termination that fails for good (Okta cannot look up a login with "/"): a warning with the error is logged.
    const failing = await call('admin create (fails at Okta)', '/admin/v1/terminations', {
      method: 'POST',
      headers: admin(SECRETS.operatorToken),
      body: JSON.stringify({ subject: { userName: 'has/slash@example.com' } }),
    });
    expect(failing.status, failing.text).toBe(201);
    terminationIds.push(failing.body.terminationId);
    const user = await call('SCIM create', '/scim/v2/Users', {
      method: 'POST',
      headers: scim(SECRETS.scimToken),
      body: JSON.stringify({
        schemas: [USER_SCHEMA],
        userName: 'leak.scim@example.com',
        password: SECRETS.scimToken,
        emails: [{ value: 'leak.scim@example.com', primary: true }],
      }),
    });
    expect(user.status, user.text).toBe(201);
    const patched = await call('SCIM PATCH', `/scim/v2/Users/${user.body.id}`, {
      method: 'PATCH',
      headers: scim(SECRETS.scimToken),
      body: JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] }),
    });
    expect(patched.status, patched.text).toBe(200);

    // Secrets at the wrong door, in query strings, in broken bodies, in signatures made with the wrong key.
    const misuse: Array<[string, string, RequestInit]> = [
      ['SCIM token on admin', '/admin/v1/terminations', { headers: admin(SECRETS.scimToken) }],
      ['admin token on SCIM', '/scim/v2/Users', { headers: scim(SECRETS.operatorToken) }],
      ['webhook secret as a bearer token', '/admin/v1/terminations', { headers: admin(SECRETS.webhookSecret) }],
      [
        'viewer writes',
        '/admin/v1/terminations',
        { method: 'POST', headers: admin(SECRETS.viewerToken), body: JSON.stringify({ subject: { userName: 'x@example.com' } }) },
      ],
      [
        'token in the query',
        `/admin/v1/terminations?token=${SECRETS.operatorToken}&cursor=${SECRETS.operatorToken}`,
        { headers: admin(SECRETS.viewerToken) },
      ],
      [
        'token as a filter',
        `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${SECRETS.scimToken}" and password pr`)}`,
        { headers: scim(SECRETS.scimToken) },
      ],
      [
        'token in a bad filter',
        `/scim/v2/Users?filter=${encodeURIComponent(`${SECRETS.scimToken} eq`)}`,
        { headers: scim(SECRETS.scimToken) },
      ],
      [
        'token in a broken SCIM body',
        '/scim/v2/Users',
        { method: 'POST', headers: scim(SECRETS.scimToken), body: `{"userName": "${SECRETS.scimToken}", ` },
      ],
      [
        'token in an invalid SCIM body',
        '/scim/v2/Users',
        {
          method: 'POST',
          headers: scim(SECRETS.scimToken),
          body: JSON.stringify({ schemas: [USER_SCHEMA], userName: 7, password: SECRETS.operatorToken }),
        },
      ],
      [
        'token in a broken admin body',
        '/admin/v1/terminations',
        { method: 'POST', headers: admin(SECRETS.operatorToken), body: `{"reason": "${SECRETS.operatorToken}` },
      ],
      [
        'token in an invalid admin body',
        '/admin/v1/terminations',
        { method: 'POST', headers: admin(SECRETS.operatorToken), body: JSON.stringify({ subject: { password: SECRETS.webhookSecret } }) },
      ],
      ['token as an id', `/admin/v1/terminations/${SECRETS.operatorToken}`, { headers: admin(SECRETS.operatorToken) }],
      ['token as a SCIM id', `/scim/v2/Users/${SECRETS.scimToken}`, { headers: scim(SECRETS.scimToken) }],
      [
        'webhook signed with a wrong secret',
        '/webhooks/termination',
        { method: 'POST', headers: signedWebhook('whsec_d3JvbmctLXdyb25nLS13cm9uZy0td3Jvbmc=', 'msg_wrong', body), body },
      ],
      [
        'webhook body with the secret, bad JSON',
        '/webhooks/termination',
        {
          method: 'POST',
          headers: signedWebhook(SECRETS.webhookSecret, 'msg_bad_json', `{"${SECRETS.webhookSecret}"`),
          body: `{"${SECRETS.webhookSecret}"`,
        },
      ],
      [
        'webhook body with a secret, invalid',
        '/webhooks/termination',
        {
          method: 'POST',
          headers: signedWebhook(SECRETS.webhookSecret, 'msg_invalid', JSON.stringify({ subject: { token: SECRETS.operatorToken } })),
          body: JSON.stringify({ subject: { token: SECRETS.operatorToken } }),
        },
      ],
      ['metrics with the SCIM token', '/metrics', { headers: { authorization: `Bearer ${SECRETS.scimToken}` } }],
    ];
    for (const [what, path, init] of misuse) {
      const answer = await call(what, path, init);
      // Refused, or (a filter for a userName that happens to be a token) an empty answer: never a 5xx.
      expect(answer.status, `${what}: ${answer.text}`).toBeLessThan(500);
      if (what !== 'token as a filter') expect(answer.status, `${what}: ${answer.text}`).toBeGreaterThanOrEqual(400);
    }

    // Let everything finish (faults off for the tail so the run ends quickly).
    const scimTermination = await waitFor(async () => {
      const list = await request(`${url}/admin/v1/terminations?limit=50`, { headers: admin(SECRETS.viewerToken) });
      return (list.body?.items as Array<{ id: string; source: string }> | undefined)?.find((t) => t.source === 'scim')?.id;
    }, 'the SCIM termination');
    terminationIds.push(scimTermination);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    for (const info of Object.values(sandboxes!.sandboxes))
      await request(`${info.url}/__sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    for (const id of terminationIds) {
      await waitFor(
        async () => {
          const t = await request(`${url}/admin/v1/terminations/${id}`, { headers: admin(SECRETS.viewerToken) });
          return ['completed', 'failed'].includes(t.body?.termination?.state) ? t : null;
        },
        `termination ${id} to finish`,
        30_000,
        100,
      );
      await call(`detail ${id}`, `/admin/v1/terminations/${id}`, { headers: admin(SECRETS.viewerToken) });
      const json = await call(`evidence ${id}`, `/admin/v1/terminations/${id}/evidence`, { headers: admin(SECRETS.viewerToken) });
      expect(json.status).toBe(200);
      const html = await call(`evidence html ${id}`, `/admin/v1/terminations/${id}/evidence?format=html`, {
        headers: admin(SECRETS.viewerToken),
      });
      expect(html.status).toBe(200);
    }
    const metrics = await call('metrics', '/metrics', { headers: { authorization: `Bearer ${SECRETS.viewerToken}` } });
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/deprovisiond_/);
    await call('openapi', '/admin/v1/openapi.json', { headers: admin(SECRETS.viewerToken) });

    // Stop the daemon, so its logs are complete and the store is at rest.
    await daemon!.stop('SIGTERM', 5_000);
    const logs = daemon!.output();
    daemon = undefined;

    // Every table of the store, every row, every column: audit log, attempts, evidence, deliveries, directory.
    const db = new BetterSqlite3(join(dir, 'store.db'), { readonly: true });
    const tables = (db.prepare(`select name from sqlite_master where type = 'table'`).all() as Array<{ name: string }>).map((t) => t.name);
    const store = tables.map((t) => `${t}: ${JSON.stringify(db.prepare(`select * from "${t}"`).all())}`).join('\n');
    const auditRows = (db.prepare('select count(*) as n from audit_log').get() as { n: number }).n;
    db.close();

    const corpora: Array<{ where: string; text: string; sent?: string }> = [
      { where: 'daemon stdout/stderr', text: logs },
      { where: 'store', text: store },
      // An answer may repeat what its own request put in the URL (a 404 naming the id asked for,
      // a filter error quoting the filter): that is the caller's own input, not a disclosure.
      ...answers.map(({ what, path, answer }, i) => ({
        where: `answer ${i} (${what})`,
        text: `${answer.status} ${JSON.stringify([...answer.headers])} ${answer.text}`,
        sent: path,
      })),
    ];
    const leaks: string[] = [];
    let reflected = 0;
    for (const { where, text, sent } of corpora) {
      for (const [name, value] of secrets) {
        if (!text.includes(value)) continue;
        if (sent && decodeURIComponent(sent).includes(value)) reflected += 1;
        else leaks.push(`${name} in ${where}`);
      }
    }
    const logLines = logs.split('\n').filter(Boolean).length;
    console.log(
      `security-secrets: ${secrets.size} secret values searched in ${logLines} log lines, ${answers.length} responses (incl. /metrics, ` +
        `${terminationIds.length * 2} evidence documents), ${tables.length} store tables (${auditRows} audit entries): ${leaks.length} leak(s); ${reflected} answer(s) quoting a value the same request put in its URL`,
    );
    expect(leaks, leaks.join('\n')).toEqual([]);
    // The run did exercise failures: warnings were logged and faulted attempts recorded.
    expect(logs).toMatch(/"level":40.*"msg":"task failed"/);
    expect(store).toMatch(/"outcome":"retry"/);
  }, 90_000);

  it('`config check` names the offending field without echoing its value', () => {
    const secret = 'not-a-whsec-but-a-secret-value!!';
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      JSON.stringify({
        store: { sqlite: { path: join(dir, 'x.db') } },
        auth: { webhook: [secret], admin: [{ name: 'a', token: 'short', role: 'operator' }] },
        providers: {},
        playbooks: {},
        defaultPlaybook: 'x',
      }),
    );
    const result = spawnSync(process.execPath, ['bin/deprovisiond.js', 'config', 'check', '--config', file], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    const output = `${result.stdout}${result.stderr}`;
    expect(result.status).not.toBe(0);
    expect(output).toMatch(/auth\.webhook/);
    expect(output).not.toContain(secret);
    expect(output).not.toContain('short');
  }, 30_000);
});

/** Express routes of a router: `[method, path]`, with mounted sub-routers' layers walked when their path is known. */
function routesOf(router: Router, prefix: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const layer of (router as unknown as { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> }).stack) {
    if (!layer.route) continue;
    for (const method of Object.keys(layer.route.methods)) out.push([method.toUpperCase(), `${prefix}${layer.route.path}`]);
  }
  return out;
}

describe('access: every route but health needs valid credentials', () => {
  let d: TestDaemon;
  beforeAll(async () => {
    d = await startTestDaemon({ auth: { scim: ['scim-access-token-0123456789'] } });
  }, 30_000);
  afterAll(async () => d?.stop());

  it('refuses every express route and OpenAPI path without credentials, and with another door’s credentials', async () => {
    const routers = await buildRouters({
      config: d.config,
      store: d.daemon.store,
      terminations: d.daemon.terminations,
      engine: d.daemon.engine,
      events: d.daemon.events,
      logger: silentLogger(),
      now: () => new Date(),
    });
    // The console's sign-in page, its static assets and the redirects to them hold no data: open by design.
    const consolePublic = new Set(['GET /', 'GET /favicon.ico', 'GET /console/', 'GET /console/login', 'GET /console/assets/:name']);
    const routes = routers
      .flatMap(({ path, router }) => routesOf(router, path === '/' ? '' : path))
      .filter(([m, p]) => !consolePublic.has(`${m} ${p}`));
    // SCIM resources are served by scimmy-routers (mounted below the auth gate): its endpoints, by name.
    for (const path of [
      '/Users',
      '/Users/:id',
      '/Groups',
      '/Groups/:id',
      '/Schemas',
      '/ResourceTypes',
      '/ServiceProviderConfig',
      '/serviceConfiguration',
      '/Me',
      '/Bulk',
      '/.search',
    ]) {
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) routes.push([method, `/scim/v2${path}`]);
    }
    const openapi = await d.api('GET', '/admin/v1/openapi.json', { token: VIEWER_TOKEN });
    expect(openapi.status).toBe(200);
    const documented = Object.entries(openapi.body.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
        .map((m) => [m.toUpperCase(), `/admin/v1${path}`] as [string, string]),
    );
    // Every documented admin operation is an express route, and the other way round.
    const adminRoutes = routes.filter(([, p]) => p.startsWith('/admin/v1')).map(([m, p]) => `${m} ${p.replace(/:(\w+)/g, '{$1}')}`);
    expect(new Set(adminRoutes)).toEqual(new Set(documented.map(([m, p]) => `${m} ${p}`)));
    routes.push(...documented, ['GET', '/metrics'], ['GET', '/admin/v1/no-such-route'], ['GET', '/scim/v2/no-such-route']);

    const wrongCredentials = [
      null,
      'Bearer ',
      'Bearer wrong-token-0123456789',
      `Basic ${Buffer.from(`ops:${OPERATOR_TOKEN}`).toString('base64')}`,
      `Bearer ${OPERATOR_TOKEN}x`,
      `bearer  ${WEBHOOK_SECRETS[0]}`,
    ];
    const refused: string[] = [];
    const opened: string[] = [];
    let requests = 0;
    for (const [method, rawPath] of routes) {
      const path = rawPath.replace(/[:{](\w+)}?/g, '00000000-0000-4000-8000-000000000000');
      const door = path.startsWith('/scim/v2') ? 'scim' : path.startsWith('/webhooks') ? 'webhook' : 'admin';
      // Another door's valid credential must not open this one.
      const foreign =
        door === 'scim'
          ? [`Bearer ${OPERATOR_TOKEN}`]
          : door === 'admin'
            ? ['Bearer scim-access-token-0123456789']
            : [`Bearer ${OPERATOR_TOKEN}`, 'Bearer scim-access-token-0123456789'];
      for (const auth of [...wrongCredentials, ...foreign]) {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (auth !== null) headers.authorization = auth;
        const res = await fetch(`${d.url}${path}`, { method, headers, body: ['GET', 'DELETE'].includes(method) ? undefined : '{}' });
        requests += 1;
        await res.arrayBuffer();
        (res.status === 401 ? refused : opened).push(
          `${method} ${path} with ${auth === null ? 'no credentials' : auth.slice(0, 12)}: ${res.status}`,
        );
      }
    }
    // Health stays open.
    for (const path of ['/healthz', '/readyz']) expect((await fetch(`${d.url}${path}`)).status).toBe(200);
    console.log(
      `security-access: ${new Set(routes.map(([m, p]) => `${m} ${p}`)).size} routes (${documented.length} OpenAPI operations), ${requests} unauthenticated or wrongly authenticated requests: ${opened.length} not refused`,
    );
    expect(opened).toEqual([]);
  }, 60_000);

  it('viewers read but cannot write', async () => {
    const before = (await d.daemon.store.listTerminations({ limit: 1000 })).items.length;
    const created = await d.api('POST', '/admin/v1/terminations', {
      token: OPERATOR_TOKEN,
      body: { subject: { userName: 'viewer.target@example.com' } },
    });
    expect(created.status).toBe(201);
    const id = created.body.terminationId as string;
    const writes: Array<[string, unknown]> = [
      ['/terminations', { subject: { userName: 'viewer.write@example.com' } }],
      [`/terminations/${id}/cancel`, {}],
      [`/terminations/${id}/approve`, {}],
      [`/terminations/${id}/replay`, {}],
      ['/terminations/approve-held', {}],
      [`/terminations/${id}/tasks/00000000-0000-4000-8000-000000000000/replay`, {}],
      [`/terminations/${id}/tasks/00000000-0000-4000-8000-000000000000/complete`, { outcome: 'done', reason: 'x' }],
    ];
    for (const [path, body] of writes) {
      const answer = await d.api('POST', `/admin/v1${path}`, { token: VIEWER_TOKEN, body });
      expect(answer.status, `viewer POST ${path}: ${answer.text}`).toBe(403);
    }
    // A dry run writes nothing, so it is open to viewers.
    expect(
      (
        await d.api('POST', '/admin/v1/terminations?dryRun=true', {
          token: VIEWER_TOKEN,
          body: { subject: { userName: 'viewer.plan@example.com' } },
        })
      ).status,
    ).toBe(200);
    expect((await d.api('GET', `/admin/v1/terminations/${id}`, { token: VIEWER_TOKEN })).status).toBe(200);
    const after = await d.daemon.store.listTerminations({ limit: 1000 });
    expect(after.items.length).toBe(before + 1);
    expect(after.items.find((t) => t.id === id)?.state).not.toBe('cancelled');
  });
});

describe('token comparison is constant-time', () => {
  it('TokenSet hashes both sides to fixed-length digests and compares every entry with timingSafeEqual', () => {
    const source = readFileSync(join(ROOT, 'src/server/tokens.ts'), 'utf8');
    expect(source).toMatch(/import \{[^}]*createHash[^}]*timingSafeEqual[^}]*\} from 'node:crypto'/);
    expect(source).toMatch(/createHash\('sha256'\)\.update\(value, 'utf8'\)\.digest\(\)/);
    const match = /match\(presented: string\)[^{]*\{([\s\S]*?)\n {2}\}/.exec(source)?.[1] ?? '';
    expect(match).toMatch(/const candidate = digest\(presented\)/);
    expect(match).toMatch(/timingSafeEqual\(entry\.digest, candidate\)/);
    // No early exit: the loop body never returns or breaks.
    const loop = /for \(const entry of this\.entries\) \{([\s\S]*?)\n {4}\}/.exec(match)?.[1] ?? match;
    expect(loop).not.toMatch(/\breturn\b|\bbreak\b/);
  });

  it('every bearer-token and secret check in src/ goes through TokenSet (or the Standard Webhooks library)', () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const path = join(d, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts')) files.push(path);
      }
    };
    walk(join(ROOT, 'src'));
    const problems: string[] = [];
    for (const file of files) {
      const source = readFileSync(file, 'utf8');
      const rel = file.slice(ROOT.length + 1);
      if (rel !== 'src/server/tokens.ts' && source.includes('timingSafeEqual')) problems.push(`${rel}: its own timingSafeEqual`);
      // A token compared with === / !== / includes / indexOf / startsWith is a timing leak.
      // A token compared with an equality operator (to anything but null, undefined or a literal) is a timing leak.
      if (/\b\w*(token|secret)\w*\s*[!=]==?\s*(?!null\b|undefined\b|['"`\d])\w/i.test(source))
        problems.push(`${rel}: compares a token with an equality operator`);
      if (/\.(includes|indexOf)\((presented|token|bearer)\w*\)/.test(source))
        problems.push(`${rel}: looks a token up with includes/indexOf`);
      // Every reader of the Authorization header matches with a TokenSet.
      if (source.includes('headers.authorization') && !source.includes('TokenSet'))
        problems.push(`${rel}: reads Authorization without a TokenSet`);
    }
    const readers = files
      .filter((f) => readFileSync(f, 'utf8').includes('headers.authorization'))
      .map((f) => f.slice(ROOT.length + 1))
      .sort();
    expect(readers).toEqual(['src/admin/auth.ts', 'src/intake/scim/router.ts', 'src/server/app.ts']);
    expect(problems).toEqual([]);
    // Webhook signatures: standardwebhooks compares with its own constant-time function.
    const library = readFileSync(join(ROOT, 'node_modules/standardwebhooks/dist/index.js'), 'utf8');
    expect(library).toMatch(/timingSafeEqual\)\(encoder\.encode\(signature\), encoder\.encode\(expectedSignature\)\)/);
  });
});
