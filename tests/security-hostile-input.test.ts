/**
 * Hostile input, property-based (fast-check) against a running daemon's SCIM, webhook and
 * admin endpoints: random and malformed JSON, wrong types, huge bodies (413), deep nesting,
 * odd encodings (invalid UTF-8, BOM, UTF-16), filters meant to break the parser, path
 * traversal in ids. Never a 5xx, never a crash, never a partial write (every stored
 * termination and directory user traces back to an acknowledged request; the audit chain
 * verifies). The number of inputs tried is printed.
 *
 * Then: a termination only ever targets the subject the request named. Wildcard paths,
 * filters with `or`/`pr`, DELETE with a filter and Bulk cannot widen it; and at a provider
 * (the Okta sandbox, with the engine running), identifiers such as `*`, `me`, `..` or a
 * quoted search expression disable nobody but the named person.
 *
 * Knob: HOSTILE_RUNS (inputs per property, default 150).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oktaModule } from '../providers/okta/index.ts';
import type { ProviderModule } from '../providers/module.ts';
import { verifyAuditChain } from '../src/audit/verify.ts';
import { configSchema } from '../src/config/schema.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import { createLogger } from '../src/telemetry/logger.ts';
import { ERROR_SCHEMA, PATCH_OP, SCIM_JSON, USER_SCHEMA, signedWebhook, waitFor } from './helpers/reliability.ts';
import { createTestModule } from './helpers/test-module.ts';
import { inlineAttemptsIn } from './helpers/test-module.ts';

const RUNS = Number(process.env.HOSTILE_RUNS ?? 150);
const SCIM_TOKEN = 'hostile-scim-token-0123456789abcdef';
const ADMIN_TOKEN = 'hostile-admin-token-0123456789abcdef';
const WEBHOOK_SECRET = 'whsec_aG9zdGlsZS10ZXN0LXdlYmhvb2stc2VjcmV0LTEyMzQ=';
const BODY_LIMIT = 16 * 1024;

interface Answer {
  status: number;
  text: string;
  type: string;
}

interface Harness {
  daemon: Daemon;
  logs: string[];
  dir: string;
  send(
    method: string,
    path: string,
    options?: { headers?: Record<string, string>; body?: string | Uint8Array; auth?: 'scim' | 'admin' | 'none' },
  ): Promise<Answer>;
}

async function startHarness(kind: 'fake' | 'okta'): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-hostile-'));
  const config = configSchema.parse({
    server: { host: '127.0.0.1', port: 0, bodyLimit: '16kb' },
    store: { sqlite: { path: join(dir, 'store.db') } },
    auth: { admin: [{ name: 'ops', token: ADMIN_TOKEN, role: 'operator' }], scim: [SCIM_TOKEN], webhook: [WEBHOOK_SECRET] },
    engine: { lease: '5s', attemptTimeout: '5s', retry: { maxAttempts: 2, baseDelay: '10ms', maxDelay: '50ms' } },
    providers: kind === 'okta' ? { okta: { kind: 'okta', sandbox: { autoProvision: false } } } : { fake: { kind: 'fake' } },
    playbooks: {
      leaver: {
        steps:
          kind === 'okta'
            ? [{ id: 'okta-suspend', provider: 'okta', action: 'disable_account', params: { mode: 'suspend' } }]
            : [{ id: 'revoke', provider: 'fake', action: 'revoke_sessions' }],
      },
    },
    defaultPlaybook: 'leaver',
  });
  const logs: string[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(line) } });
  const modules: ReadonlyMap<string, ProviderModule<any>> = kind === 'okta'
    ? new Map([[oktaModule.kind, oktaModule as ProviderModule<any>]])
    : createTestModule().modules;
  const daemon = await startDaemon(inlineAttemptsIn(config), {
    configFile: join(dir, 'config.yaml'),
    logger,
    modules,
    runEngine: kind === 'okta',
  });
  return {
    daemon,
    logs,
    dir,
    async send(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const auth = options.auth ?? (path.startsWith('/scim/') ? 'scim' : path.startsWith('/admin/') ? 'admin' : 'none');
      if (auth === 'scim') headers.authorization = `Bearer ${SCIM_TOKEN}`;
      if (auth === 'admin') headers.authorization = `Bearer ${ADMIN_TOKEN}`;
      const res = await fetch(`${daemon.url}${path}`, {
        method,
        headers,
        body: options.body as BodyInit | undefined,
        signal: AbortSignal.timeout(15_000),
      });
      return { status: res.status, text: await res.text(), type: res.headers.get('content-type') ?? '' };
    },
  };
}

const scimUser = (userName: string) =>
  JSON.stringify({ schemas: [USER_SCHEMA], userName, emails: [{ value: userName, primary: true, type: 'work' }] });

// Arbitraries.
const anyJson = fc.jsonValue({ maxDepth: 6 });
const weird = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
  fc.constantFrom('True', 'False', '', ' ', '__proto__', 'constructor', '*', '%', '\u0000', '\uFEFF', '\uD800', 'a'.repeat(5000)),
);
const scimBody = fc.oneof(
  anyJson,
  fc.record(
    {
      schemas: fc.oneof(fc.constant([USER_SCHEMA]), weird),
      userName: weird,
      active: weird,
      emails: fc.oneof(weird, fc.array(fc.record({ value: weird, primary: weird, type: weird }, { requiredKeys: [] }), { maxLength: 3 })),
      externalId: weird,
      name: fc.oneof(weird, fc.record({ givenName: weird, familyName: weird }, { requiredKeys: [] })),
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': fc.oneof(weird, fc.record({ manager: weird }, { requiredKeys: [] })),
      meta: weird,
      id: weird,
      __proto__: weird,
    },
    { requiredKeys: [] },
  ),
);
const patchBody = fc.oneof(
  anyJson,
  fc.record(
    {
      schemas: fc.oneof(fc.constant([PATCH_OP]), weird),
      Operations: fc.oneof(
        weird,
        fc.array(
          fc.record(
            {
              op: fc.oneof(fc.constantFrom('add', 'replace', 'remove', 'Replace', 'ADD', 'move', 'copy', 'test'), weird),
              path: fc.oneof(
                fc.constantFrom(
                  'active',
                  'userName',
                  'emails[type eq "work"].value',
                  'emails[value pr]',
                  'name.givenName',
                  'urn:ietf:params:scim:schemas:core:2.0:User:active',
                  'members',
                  'id',
                  'meta.version',
                  'emails[',
                  ']',
                  'a.b.c.d',
                  '*',
                ),
                weird,
              ),
              value: fc.oneof(weird, anyJson),
            },
            { requiredKeys: [] },
          ),
          { maxLength: 4 },
        ),
      ),
    },
    { requiredKeys: [] },
  ),
);
const filterToken = fc.oneof(
  fc.constantFrom(
    'userName',
    'emails',
    'emails.value',
    'emails[type eq "work"]',
    'emails[value pr]',
    'name.givenName',
    'meta.created',
    'meta.lastModified',
    'active',
    'id',
    'externalId',
    'urn:ietf:params:scim:schemas:core:2.0:User:userName',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value',
    'groups',
    'x.y.z',
    'eq',
    'ne',
    'co',
    'sw',
    'ew',
    'pr',
    'gt',
    'ge',
    'lt',
    'le',
    'and',
    'or',
    'not',
    'AND',
    'Or',
    '(',
    ')',
    '[',
    ']',
    '"alice@example.com"',
    '"',
    '"\\',
    '"\\u00"',
    '"\\ud800"',
    'true',
    'false',
    'null',
    '1e999',
    '-1',
    '0x10',
    '"2020-01-01T00:00:00Z"',
    '*',
    '%',
    "'",
  ),
  fc.string({ maxLength: 12 }),
);
const filterExpression = fc.oneof(
  fc.array(filterToken, { minLength: 1, maxLength: 12 }).map((t) => t.join(' ')),
  fc.array(filterToken, { minLength: 1, maxLength: 12 }).map((t) => t.join('')),
  fc.integer({ min: 1, max: 400 }).map((n) => `${'('.repeat(n)}userName pr${')'.repeat(n)}`),
  fc.integer({ min: 1, max: 400 }).map((n) => `${'not ('.repeat(n)}active eq true${')'.repeat(n)}`),
  fc.integer({ min: 1, max: 200 }).map((n) => Array.from({ length: n }, (_, i) => `userName eq "u${i}@example.com"`).join(' or ')),
  fc.string({ unit: 'binary', maxLength: 60 }),
);
const hostileId = fc.oneof(
  fc.constantFrom(
    '..',
    '../..',
    '%2e%2e',
    '%2e%2e%2f%2e%2e',
    '..%2F..%2Fetc%2Fpasswd',
    '..%5C..%5Cwindows',
    '*',
    '%2A',
    '%00',
    'a%2Fb',
    '%25',
    '%ZZ',
    '.',
    '%2E',
    'me',
    'Me',
    '~',
    'Users',
    '.search',
    ' ',
    '%20',
    'a'.repeat(8000),
    '%C0%AE%C0%AE',
    '%EF%BB%BF',
    '%FF%FE',
  ),
  fc.string({ minLength: 1, maxLength: 40 }).map(encodeURIComponent),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }).map(encodeURIComponent),
);
const contentType = fc.constantFrom(
  'application/scim+json',
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json; charset=nonsense',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  '',
);
const rawBody = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }).map((s) => new TextEncoder().encode(s)),
  fc.uint8Array({ maxLength: 300 }),
  anyJson.map((v) => new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(JSON.stringify(v))])),
  anyJson.map((v) => new Uint8Array(Buffer.from(JSON.stringify(v), 'utf16le'))),
  anyJson.map((v) => new Uint8Array([0xff, 0xfe, ...Buffer.from(JSON.stringify(v), 'utf16le')])),
  anyJson.map((v) => {
    const bytes = new TextEncoder().encode(JSON.stringify(v));
    // Invalid UTF-8 spliced into valid JSON: a lone continuation byte, an overlong encoding, a truncated sequence.
    return new Uint8Array([...bytes.slice(0, 1), 0x80, 0xc0, 0xaf, 0xe2, 0x82, ...bytes.slice(1)]);
  }),
);

function deep(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

describe('hostile input never yields a 5xx, a crash or a partial write', () => {
  let h: Harness;
  let seedUserId: string;
  const tried: Record<string, number> = {};
  const statuses: Record<string, number> = {};
  /** Acknowledged writes, to check the store against at the end. */
  const acknowledged = {
    scimCreated: new Set<string>(),
    scimTerminating: new Set<string>(),
    webhookIds: new Set<string>(),
    adminCreated: new Set<string>(),
  };

  beforeAll(async () => {
    h = await startHarness('fake');
    const seed = await h.send('POST', '/scim/v2/Users', { headers: { 'content-type': SCIM_JSON }, body: scimUser('seed@example.com') });
    expect(seed.status, seed.text).toBe(201);
    seedUserId = JSON.parse(seed.text).id;
    acknowledged.scimCreated.add(seedUserId);
  }, 30_000);

  afterAll(async () => {
    await h?.daemon.stop();
    if (h) rmSync(h.dir, { recursive: true, force: true });
  });

  /** The invariant every answer keeps. */
  const check = (what: string, answer: Answer, input: unknown) => {
    tried[what] = (tried[what] ?? 0) + 1;
    statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
    if (answer.status >= 500 || answer.status < 200)
      throw new Error(`${what}: ${answer.status} ${answer.text.slice(0, 300)} for ${JSON.stringify(input).slice(0, 300)}`);
    if (answer.status >= 400 && answer.text) {
      // Errors are JSON (SCIM errors carry the SCIM error schema), never an HTML stack page.
      const parsed = JSON.parse(answer.text) as { schemas?: string[]; error?: string };
      if (what.startsWith('scim') && answer.status !== 404 && !parsed.schemas?.includes(ERROR_SCHEMA))
        throw new Error(`${what}: ${answer.status} without a SCIM error body: ${answer.text.slice(0, 200)}`);
    }
  };
  const property = async <T>(what: string, arbitrary: fc.Arbitrary<T>, run: (input: T) => Promise<void>, numRuns = RUNS) => {
    await fc.assert(fc.asyncProperty(arbitrary, run), { numRuns, seed: Number(process.env.HOSTILE_SEED ?? 20240607), endOnFailure: true });
  };

  it('SCIM: random user bodies on POST and PUT, random PATCH operations', async () => {
    await property('scim POST /Users', scimBody, async (body) => {
      const answer = await h.send('POST', '/scim/v2/Users', { headers: { 'content-type': SCIM_JSON }, body: JSON.stringify(body) });
      check('scim POST /Users', answer, body);
      if (answer.status === 201) acknowledged.scimCreated.add(JSON.parse(answer.text).id);
    });
    await property('scim PUT /Users/:id', scimBody, async (body) => {
      const answer = await h.send('PUT', `/scim/v2/Users/${seedUserId}`, {
        headers: { 'content-type': SCIM_JSON },
        body: JSON.stringify(body),
      });
      check('scim PUT /Users/:id', answer, body);
      if (answer.status === 200 && JSON.parse(answer.text).active === false) acknowledged.scimTerminating.add(seedUserId);
    });
    await property('scim PATCH /Users/:id', patchBody, async (body) => {
      const answer = await h.send('PATCH', `/scim/v2/Users/${seedUserId}`, {
        headers: { 'content-type': SCIM_JSON },
        body: JSON.stringify(body),
      });
      check('scim PATCH /Users/:id', answer, body);
      if (answer.status === 200 && JSON.parse(answer.text).active === false) acknowledged.scimTerminating.add(seedUserId);
    });
  }, 120_000);

  it('SCIM: filters meant to break the parser, on GET and POST /.search', async () => {
    await property('scim filter', filterExpression, async (filter) => {
      const answer = await h.send(
        'GET',
        `/scim/v2/Users?filter=${encodeURIComponent(filter)}&startIndex=${(filter.length % 7) - 2}&count=-5`,
      );
      check('scim filter', answer, filter);
      const search = await h.send('POST', '/scim/v2/Users/.search', {
        headers: { 'content-type': SCIM_JSON },
        body: JSON.stringify({
          schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
          filter,
          startIndex: filter.length,
          count: 3,
        }),
      });
      check('scim filter (.search)', search, filter);
    });
  }, 120_000);

  it('path traversal and odd ids on every id-taking route', async () => {
    await property('id in path', hostileId, async (id) => {
      for (const [method, path, body] of [
        ['GET', `/scim/v2/Users/${id}`, undefined],
        [
          'PATCH',
          `/scim/v2/Users/${id}`,
          JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] }),
        ],
        ['PUT', `/scim/v2/Users/${id}`, scimUser('put@example.com')],
        ['DELETE', `/scim/v2/Users/${id}`, undefined],
        ['GET', `/admin/v1/terminations/${id}`, undefined],
        ['GET', `/admin/v1/terminations/${id}/evidence?format=html`, undefined],
        ['POST', `/admin/v1/terminations/${id}/cancel`, '{}'],
        ['POST', `/admin/v1/terminations/${id}/tasks/${id}/replay`, '{}'],
      ] as const) {
        const answer = await h.send(method, path, {
          headers: body ? { 'content-type': path.startsWith('/scim') ? SCIM_JSON : 'application/json' } : {},
          body,
        });
        check(path.startsWith('/scim') ? 'scim id in path' : 'admin id in path', answer, `${method} ${path}`);
        if (answer.status < 300 && method !== 'GET')
          throw new Error(`${method} ${path.slice(0, 100)} acknowledged a write for an id nobody has: ${answer.status}`);
      }
    });
  }, 120_000);

  it('raw bodies: invalid UTF-8, BOM, UTF-16, odd content types, on all three doors', async () => {
    let n = 0;
    await property('raw body', fc.tuple(rawBody, contentType), async ([body, type]) => {
      const headers: Record<string, string> = type ? { 'content-type': type } : {};
      check('scim raw body', await h.send('POST', '/scim/v2/Users', { headers, body }), type);
      check('scim raw PATCH', await h.send('PATCH', `/scim/v2/Users/${seedUserId}`, { headers, body }), type);
      const admin = await h.send('POST', '/admin/v1/terminations', { headers, body });
      check('admin raw body', admin, type);
      if (admin.status === 201) acknowledged.adminCreated.add(JSON.parse(admin.text).terminationId);
      // Signed: the signature is valid, so what is judged is the body itself.
      const id = `msg_raw_${n++}`;
      const signed = signedWebhook(WEBHOOK_SECRET, id, Buffer.from(body).toString('latin1'));
      const hook = await h.send('POST', '/webhooks/termination', {
        headers: { ...signed, ...headers },
        body: Buffer.from(Buffer.from(body).toString('latin1'), 'latin1'),
      });
      check('webhook raw body', hook, type);
      if (hook.status < 300) acknowledged.webhookIds.add(id);
    });
  }, 120_000);

  it('webhook and admin: structured junk, wrong types, random ids and query strings', async () => {
    const subject = fc.oneof(
      weird,
      fc.record(
        {
          externalId: weird,
          userName: weird,
          emails: fc.oneof(weird, fc.array(weird, { maxLength: 3 })),
          displayName: weird,
          manager: fc.oneof(weird, fc.record({ email: weird }, { requiredKeys: [] })),
        },
        { requiredKeys: [] },
      ),
    );
    const event = fc.oneof(
      anyJson,
      fc.record(
        {
          type: fc.oneof(fc.constantFrom('termination.requested', 'termination.cancelled'), weird),
          subject,
          reason: weird,
          effectiveAt: weird,
          playbook: weird,
          dryRun: weird,
        },
        { requiredKeys: [] },
      ),
    );
    let n = 0;
    await property(
      'webhook event',
      fc.tuple(event, fc.oneof(fc.constant(''), fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 20 }))),
      async ([body, idSuffix]) => {
        const text = JSON.stringify(body);
        const id = `msg_${n++}_${idSuffix}`;
        let headers: Record<string, string>;
        try {
          headers = signedWebhook(WEBHOOK_SECRET, id, text);
          new Headers(headers);
        } catch {
          // An id no HTTP client can send as a header.
          return;
        }
        let answer: Answer;
        try {
          answer = await h.send('POST', '/webhooks/termination', { headers, body: text });
        } catch (error) {
          // A webhook-id no HTTP client will send as a header (control characters): nothing to test.
          if (String((error as { cause?: { message?: string } }).cause?.message).includes('header')) return;
          throw error;
        }
        check('webhook event', answer, body);
        if (answer.status < 300) acknowledged.webhookIds.add(id);
      },
    );
    await property('admin create', fc.tuple(event, fc.option(fc.string({ maxLength: 300 }))), async ([body, key]) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (key !== null) headers['idempotency-key'] = key;
      try {
        new Headers(headers);
      } catch {
        delete headers['idempotency-key'];
      }
      const answer = await h.send('POST', `/admin/v1/terminations${Math.random() < 0.2 ? '?dryRun=true' : ''}`, {
        headers,
        body: JSON.stringify(body),
      });
      check('admin create', answer, body);
      if (answer.status === 201) acknowledged.adminCreated.add(JSON.parse(answer.text).terminationId);
    });
    const query = fc.dictionary(
      fc.constantFrom('state', 'since', 'until', 'limit', 'cursor', 'subject', 'dryRun', 'format', '__proto__'),
      fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('-1', '1e9', 'NaN', '2020-13-45', 'failed', 'eyJ4Ijoy', '[]')),
      { maxKeys: 4 },
    );
    await property('admin list query', query, async (q) => {
      const answer = await h.send('GET', `/admin/v1/terminations?${new URLSearchParams(q).toString()}`);
      check('admin list query', answer, q);
    });
  }, 120_000);

  it('huge bodies answer 413 and deep nesting never 5xx', async () => {
    const huge = 'x'.repeat(BODY_LIMIT * 4);
    const big = JSON.stringify({ schemas: [USER_SCHEMA], userName: 'big@example.com', padding: huge });
    const giant = new Uint8Array(8 * 1024 * 1024).fill(0x20);
    const doors: Array<[string, string, Record<string, string>]> = [
      ['POST', '/scim/v2/Users', { 'content-type': SCIM_JSON }],
      ['PATCH', `/scim/v2/Users/${seedUserId}`, { 'content-type': SCIM_JSON }],
      ['POST', '/admin/v1/terminations', { 'content-type': 'application/json' }],
      ['POST', '/webhooks/termination', signedWebhook(WEBHOOK_SECRET, 'msg_huge', big)],
    ];
    for (const [method, path, headers] of doors) {
      for (const body of [big, giant]) {
        const answer = await h.send(method, path, { headers, body }).catch(() => ({ status: 413, text: '', type: '' }));
        tried['huge body'] = (tried['huge body'] ?? 0) + 1;
        expect(answer.status, `${method} ${path} ${body.length} bytes: ${answer.text.slice(0, 200)}`).toBe(413);
      }
      for (const depth of [100, 1_000, 5_000]) {
        for (const kind of ['array', 'object'] as const) {
          const nested = deep(depth, kind);
          const wrapped = [
            nested,
            JSON.stringify({
              schemas: [USER_SCHEMA],
              userName: `deep${depth}@example.com`,
              name: JSON.parse(deep(Math.min(depth, 1_000), 'object')),
            }),
            `{"subject":${nested}}`,
            `{"schemas":["${PATCH_OP}"],"Operations":[{"op":"add","path":"name","value":${nested}}]}`,
          ];
          for (const body of wrapped) {
            if (body.length > BODY_LIMIT) continue;
            const h2 = path.startsWith('/webhooks')
              ? signedWebhook(WEBHOOK_SECRET, `msg_deep_${depth}_${kind}_${body.length}`, body)
              : headers;
            const answer = await h.send(method, path, { headers: h2, body });
            check(`deep nesting ${path.startsWith('/scim') ? 'scim' : path}`, answer, `${depth} ${kind}`);
            if (answer.status === 201 && path === '/scim/v2/Users') acknowledged.scimCreated.add(JSON.parse(answer.text).id);
            if (answer.status < 300 && path.startsWith('/webhooks')) throw new Error('a deeply nested webhook body was acknowledged');
            if (answer.status === 200 && path.includes(seedUserId) && JSON.parse(answer.text).active === false)
              acknowledged.scimTerminating.add(seedUserId);
          }
        }
      }
    }
  }, 120_000);

  it('the daemon is alive, and the store holds only what was acknowledged', async () => {
    const health = await h.send('GET', '/healthz', { auth: 'none' });
    expect(health.status).toBe(200);
    const { store } = h.daemon;
    const terminations = (await store.listTerminations({ limit: 1000 })).items;
    const unexplained = terminations.filter((t) => {
      if (t.source === 'webhook') return !acknowledged.webhookIds.has(t.sourceEventId ?? '');
      if (t.source === 'admin') return !acknowledged.adminCreated.has(t.id);
      if (t.source === 'scim') return !acknowledged.scimTerminating.has((t.sourceEventId ?? '').split('/')[1] ?? '');
      return true;
    });
    expect(unexplained.map((t) => `${t.source} ${t.id} ${t.sourceEventId}`)).toEqual([]);
    const users = await store.directory.listUsers({ offset: 0, limit: 10_000 });
    expect(users.items.filter((u) => !acknowledged.scimCreated.has(u.id)).map((u) => u.id)).toEqual([]);
    const chain = await verifyAuditChain((after, limit) => store.listAudit(after, limit));
    expect(chain.ok).toBe(true);
    const total = Object.values(tried).reduce((a, b) => a + b, 0);
    const crashes = h.logs.filter((l) => /"level":(50|60)/.test(l));
    console.log(
      `security-hostile-input: ${total} requests from generated inputs (${Object.entries(tried)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}); ` +
        `answers ${JSON.stringify(statuses)}; 5xx: 0; error-level log lines: ${crashes.length}; stored: ${terminations.length} terminations, ${users.total} users, all acknowledged; audit chain ok (${chain.ok ? chain.entries : 0} entries)`,
    );
    expect(crashes.map((l) => l.slice(0, 300))).toEqual([]);
  });
});

describe('a termination only targets the subject the request named', () => {
  let h: Harness;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    h = await startHarness('okta');
    const okta = h.daemon.sandboxes.get('okta')!;
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) {
      const login = `${name}@example.com`;
      const seeded = await fetch(`${okta.url}/__sandbox/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ login, email: login }),
      });
      expect(seeded.status).toBe(201);
      const user = await h.send('POST', '/scim/v2/Users', { headers: { 'content-type': SCIM_JSON }, body: scimUser(login) });
      expect(user.status, user.text).toBe(201);
      ids[name] = JSON.parse(user.text).id;
    }
  }, 30_000);

  afterAll(async () => {
    await h?.daemon.stop();
    if (h) rmSync(h.dir, { recursive: true, force: true });
  });

  it('wildcards, filters, Bulk and odd identifiers never widen a termination', async () => {
    const deactivate = JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] });
    const scimJson = { 'content-type': SCIM_JSON };
    const wide = encodeURIComponent('userName pr or active eq true');
    const attempts: Array<[string, string, string | undefined]> = [
      ['PATCH', '/scim/v2/Users/*', deactivate],
      ['PATCH', '/scim/v2/Users/%2A', deactivate],
      ['PATCH', `/scim/v2/Users?filter=${wide}`, deactivate],
      ['PATCH', '/scim/v2/Users', deactivate],
      [
        'PATCH',
        `/scim/v2/Users/${ids.dave}`,
        JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'userName pr', value: false }] }),
      ],
      [
        'PATCH',
        `/scim/v2/Users/${ids.dave}`,
        JSON.stringify({
          schemas: [PATCH_OP],
          Operations: [{ op: 'replace', path: 'emails[value pr or userName pr].active', value: false }],
        }),
      ],
      ['DELETE', `/scim/v2/Users?filter=${wide}`, undefined],
      ['DELETE', '/scim/v2/Users', undefined],
      ['DELETE', '/scim/v2/Users/*', undefined],
      ['PUT', '/scim/v2/Users', JSON.stringify({ schemas: [USER_SCHEMA], userName: 'x@example.com', active: false })],
      [
        'POST',
        '/scim/v2/Users/.search',
        JSON.stringify({
          schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
          filter: 'userName pr or active eq true',
          Operations: [{ op: 'replace', path: 'active', value: false }],
        }),
      ],
      [
        'POST',
        '/scim/v2/Bulk',
        JSON.stringify({
          schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
          Operations: ['bob', 'carol', 'dave', 'erin'].map((n) => ({
            method: 'PATCH',
            path: `/Users/${ids[n]}`,
            data: JSON.parse(deactivate),
          })),
        }),
      ],
    ];
    const answers: string[] = [];
    for (const [method, path, body] of attempts) {
      const answer = await h.send(method, path, { headers: body ? scimJson : {}, body });
      answers.push(`${method} ${decodeURIComponent(path)}: ${answer.status}`);
      // Bulk is not supported: RFC 7644 §3.12 answers an unsupported operation 501, the one 5xx allowed here.
      if (path.endsWith('/Bulk')) expect(answer.status, answer.text).toBe(501);
      else expect(answer.status, `${method} ${path}: ${answer.text}`).toBeLessThan(500);
    }
    expect((await h.daemon.store.listTerminations({ limit: 100 })).items).toEqual([]);

    // The named ones: PATCH with a wide filter in the query, DELETE with one: only that user.
    const patched = await h.send('PATCH', `/scim/v2/Users/${ids.alice}?filter=${wide}`, { headers: scimJson, body: deactivate });
    expect(patched.status, patched.text).toBe(200);
    const deleted = await h.send('DELETE', `/scim/v2/Users/${ids.bob}?filter=${wide}`);
    expect(deleted.status, deleted.text).toBe(204);

    // Webhook and admin with identifiers that look like patterns, self-references or injections.
    const odd = [
      '*',
      '%',
      'me',
      'ME',
      '.',
      '..',
      '../carol@example.com',
      'carol@example.com" or profile.login sw "',
      "carol@example.com' or mail eq '",
      'carol*',
      '*@example.com',
      '',
      ' ',
    ];
    let n = 0;
    for (const userName of odd) {
      const body = JSON.stringify({ subject: { userName } });
      const hook = await h.send('POST', '/webhooks/termination', { headers: signedWebhook(WEBHOOK_SECRET, `msg_odd_${n++}`, body), body });
      expect(hook.status, `${userName}: ${hook.text}`).toBeLessThan(500);
      const admin = await h.send('POST', '/admin/v1/terminations', {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ subject: { userName: `${userName} ` } }),
      });
      expect(admin.status, `${userName}: ${admin.text}`).toBeLessThan(500);
    }

    // Let the engine run everything that was accepted.
    const settled = await waitFor(
      async () => {
        const items = (await h.daemon.store.listTerminations({ limit: 1000 })).items;
        return items.every((t) => ['completed', 'failed', 'cancelled'].includes(t.state)) ? items : null;
      },
      'every termination to settle',
      30_000,
      50,
    );

    // The SCIM-started terminations name exactly alice and bob.
    const scim = settled
      .filter((t) => t.source === 'scim')
      .map((t) => t.subject.userName)
      .sort();
    expect(scim).toEqual(['alice@example.com', 'bob@example.com']);
    // At the provider: only alice and bob were suspended; carol, dave and erin are untouched.
    const okta = h.daemon.sandboxes.get('okta')!;
    const state: Record<string, string> = {};
    const oktaIds: Record<string, string> = {};
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) {
      const res = await fetch(`${okta.url}/api/v1/users/${name}@example.com`, {
        headers: { authorization: 'SSWS 00sandbox-okta-token-not-a-secret' },
      });
      const user = (await res.json()) as { id: string; status: string };
      state[name] = user.status;
      oktaIds[name] = user.id;
    }
    expect(state).toEqual({ alice: 'SUSPENDED', bob: 'SUSPENDED', carol: 'ACTIVE', dave: 'ACTIVE', erin: 'ACTIVE' });
    // No write reached any account but theirs, and no lookup asked Okta for "the current user".
    const writes = [...okta.control.writes.keys()];
    expect(writes.filter((key) => !key.endsWith(`:${oktaIds.alice}`) && !key.endsWith(`:${oktaIds.bob}`))).toEqual([]);
    const requests = okta.control.requests.map((r) => `${r.method} ${r.path}`);
    expect(requests.filter((r) => /\/api\/v1\/users\/(me|\.{1,2})(\/|$)/i.test(r) || r.endsWith('/api/v1/'))).toEqual([]);
    console.log(
      `security-targeting: ${attempts.length} widening attempts over SCIM (${answers.join(', ')}) terminated nobody; ` +
        `${odd.length * 2} webhook/admin requests with pattern-like identifiers (${settled.length - 2} accepted) suspended nobody; ` +
        `named PATCH and DELETE reached exactly alice and bob; Okta writes: ${JSON.stringify(Object.fromEntries(okta.control.writes))}`,
    );
    expect(writes.length).toBeGreaterThan(0);
  }, 60_000);
});
