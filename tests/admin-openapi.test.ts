import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAdminRouter } from '../src/admin/router.ts';
import type { AdminDeps } from '../src/admin/deps.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { VIEWER_TOKEN, startTestDaemon, type TestDaemon } from './helpers/admin-daemon.ts';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

/** "METHOD /path" for every route of the express router, with `:param` written `{param}`. */
function routedOperations(): string[] {
  const deps = {
    config: { auth: { admin: [], scim: [], webhook: [], publicMetrics: false }, server: { host: '127.0.0.1', port: 0, bodyLimit: '1kb' } },
    store: {},
    terminations: {},
    logger: silentLogger(),
    now: () => new Date(),
  } as unknown as AdminDeps;
  const router = buildAdminRouter(deps) as unknown as { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> };
  return router.stack
    .filter((layer) => layer.route)
    .flatMap((layer) => Object.keys(layer.route!.methods).map((m) => `${m.toUpperCase()} ${layer.route!.path.replace(/:(\w+)/g, '{$1}')}`))
    .sort();
}

let t: TestDaemon;
let document: any;

beforeAll(async () => {
  t = await startTestDaemon();
  const res = await t.api('GET', '/admin/v1/openapi.json', { token: VIEWER_TOKEN });
  expect(res.status).toBe(200);
  document = res.body;
});
afterAll(async () => {
  await t?.stop();
});

describe('GET /admin/v1/openapi.json', () => {
  it('needs a token like the rest of the admin API', async () => {
    const res = await t.api('GET', '/admin/v1/openapi.json', { token: null });
    expect(res.status).toBe(401);
  });

  it('is an OpenAPI 3.1 document', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.servers).toEqual([{ url: '/admin/v1' }]);
  });

  it('documents every route of the router, and routes every documented operation', () => {
    const documented = Object.entries(document.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, item]) =>
        Object.keys(item)
          .filter((k) => METHODS.includes(k))
          .map((m) => `${m.toUpperCase()} ${path}`),
      )
      .sort();
    expect(documented).toEqual(routedOperations());
  });

  it('declares every path parameter it uses, and every $ref resolves', () => {
    for (const [path, item] of Object.entries(
      document.paths as Record<string, Record<string, { parameters?: Array<{ name: string; in: string }> }>>,
    )) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const operation of Object.values(item)) {
        const declared = (operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        expect(declared.sort(), path).toEqual([...names].sort());
      }
    }
    const refs = [...JSON.stringify(document).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const name of refs) expect(document.components.schemas[name], name).toBeDefined();
  });
});
