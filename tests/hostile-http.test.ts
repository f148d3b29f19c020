/**
 * Hostile requests at the HTTP level (issue 23, point 8) against a whole daemon: playbooks
 * named after Object.prototype's members, JSON nested 20,000 deep on every door, webhook
 * requests without their signature headers, and slow or idle clients. Named regressions
 * first (each answered 500 or held the connection before), then fast-check properties.
 *
 * Knob: HOSTILE_RUNS (inputs per property, default 100).
 */
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config/load.ts';
import { InvalidCursorError } from '../src/store/sql-store.ts';
import { configSchema } from '../src/config/schema.ts';
import {
  HOSTILE_ADMIN_TOKEN,
  HOSTILE_SCIM_TOKEN,
  HOSTILE_WEBHOOK_SECRET,
  startHostileDaemon,
  type HostileAnswer,
  type HostileDaemon,
} from './helpers/hostile-daemon.ts';
import { describePostgres } from './helpers/postgres.ts';
import { signedWebhook } from './helpers/reliability.ts';
import { postgresBackend, sqliteBackend, type StoreBackend } from './store/backends.ts';

const RUNS = Number(process.env.HOSTILE_RUNS ?? 100);
const SCIM_JSON = 'application/scim+json';
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const SEARCH_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];
/** The bound in src/server/json-depth.ts, written out so this file also runs against code without it. */
const MAX_JSON_DEPTH = 32;

/** A raw connection: what the server sent so far, and when it closed. */
interface RawConnection {
  socket: Socket;
  received(): string;
  /** Milliseconds from connecting until the server closed the connection. */
  closed: Promise<number>;
  /** Resolves with what was received once `pattern` matches; rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string>;
}

async function openRaw(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const started = performance.now();
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - started)));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return {
    socket,
    received: () => text,
    closed,
    waitFor: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          socket.off('data', check);
          reject(new Error(`no ${String(pattern)} within ${timeoutMs} ms; received: ${JSON.stringify(text.slice(0, 200))}`));
        }, timeoutMs);
        const check = () => {
          if (!pattern.test(text)) return;
          clearTimeout(timer);
          socket.off('data', check);
          resolve(text);
        };
        socket.on('data', check);
        check();
      }),
  };
}

/** Resolves after `ms`, or as soon as the connection closes. */
const sleepUnlessClosed = (raw: RawConnection, ms: number) =>
  Promise.race([new Promise<void>((resolve) => setTimeout(resolve, ms)), raw.closed.then(() => undefined)]);

const nested = (depth: number, kind: 'array' | 'object') =>
  kind === 'array' ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('with the default timeouts', () => {
  let h: HostileDaemon;
  let userId: string;

  beforeAll(async () => {
    h = await startHostileDaemon();
    const created = await h.send('POST', '/scim/v2/Users', {
      headers: { 'content-type': SCIM_JSON },
      body: JSON.stringify({ schemas: [USER_SCHEMA], userName: 'ada@example.com' }),
    });
    expect(created.status, created.text).toBe(201);
    userId = created.json.id;
  });

  afterAll(async () => {
    await h?.stop();
  });

  const webhook = (id: string, body: string) =>
    h.send('POST', '/webhooks/termination', { headers: signedWebhook(HOSTILE_WEBHOOK_SECRET, id, body), body });
  const admin = (body: string, query = '') =>
    h.send('POST', `/admin/v1/terminations${query}`, { headers: { 'content-type': 'application/json' }, body });

  describe('named regressions', () => {
    it.each(PROTOTYPE_NAMES)('a playbook named %s answers 400 naming the known playbooks, and stores nothing', async (playbook) => {
      const answers = [
        await webhook(`msg_playbook_${playbook}`, JSON.stringify({ subject: { externalId: `W-${playbook}` }, playbook })),
        await admin(JSON.stringify({ subject: { externalId: `A-${playbook}` }, playbook })),
        await admin(JSON.stringify({ subject: { externalId: `D-${playbook}` }, playbook, dryRun: true })),
      ];
      for (const answer of answers) {
        expect(answer.status, answer.text).toBe(400);
        expect(answer.json.error).toBe(`playbook: unknown playbook "${playbook}"; expected one of: leaver`);
      }
      expect((await h.daemon.store.listTerminations({ limit: 100 })).items.filter((t) => t.subject.externalId?.endsWith(playbook))).toEqual(
        [],
      );
    });

    it('JSON nested 20,000 deep answers 400 with a clear message on every door (SCIM, webhook, admin)', async () => {
      for (const kind of ['array', 'object'] as const) {
        const deep = nested(20_000, kind);
        const scim = [
          await h.send('POST', '/scim/v2/Users', {
            headers: { 'content-type': SCIM_JSON },
            body: `{"schemas":["${USER_SCHEMA}"],"userName":"deep@example.com","name":${deep}}`,
          }),
          await h.send('PATCH', `/scim/v2/Users/${userId}`, {
            headers: { 'content-type': SCIM_JSON },
            body: `{"schemas":["${PATCH_OP}"],"Operations":[{"op":"add","path":"name","value":${deep}}]}`,
          }),
          await h.send('POST', '/scim/v2/Users/.search', {
            headers: { 'content-type': SCIM_JSON },
            body: `{"schemas":["${SEARCH_REQUEST}"],"attributes":${deep}}`,
          }),
        ];
        for (const answer of scim) {
          expect(answer.status, answer.text).toBe(400);
          expect(answer.json).toMatchObject({
            scimType: 'invalidSyntax',
            detail: `body: JSON nested deeper than ${MAX_JSON_DEPTH} levels`,
          });
        }
        const body = `{"subject":${deep}}`;
        for (const answer of [await admin(body), await webhook(`msg_deep_${kind}`, body)]) {
          expect(answer.status, answer.text).toBe(400);
          expect(answer.json.error).toBe(`body: JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
        }
      }
      expect((await h.daemon.store.listTerminations({ limit: 100 })).items).toEqual([]);
    });

    it('a webhook request without the three signature headers is refused (401) before its body is read', async () => {
      const partial = {
        none: {},
        'no signature': { 'webhook-id': 'msg_headers', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)) },
        'no timestamp': { 'webhook-id': 'msg_headers', 'webhook-signature': 'v1,AAAA' },
        'no id': { 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,AAAA' },
      };
      for (const [what, headers] of Object.entries(partial)) {
        const raw = await openRaw(h.daemon.url);
        // A body announced as 200,000 bytes of which 11 ever arrive: reading it would wait for ever.
        const lines = [
          'POST /webhooks/termination HTTP/1.1',
          'Host: localhost',
          'Content-Type: application/json',
          'Content-Length: 200000',
          ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
        ];
        raw.socket.write(`${lines.join('\r\n')}\r\n\r\n{"subject":`);
        const answer = await raw.waitFor(/\r\n\r\n\{.*\}/s, 3_000).catch((error: unknown) => (error as Error).message);
        raw.socket.destroy();
        expect(answer, what).toMatch(/^HTTP\/1\.1 401 /);
        expect(answer, what).toContain('missing webhook-id, webhook-timestamp or webhook-signature header');
      }
    });

    it('admin numeric query parameters beyond a 64-bit integer answer 400, never 5xx', async () => {
      for (const limit of ['99999999999999999999999', '9223372036854775808', '-1', '1.5', '1e3', 'NaN']) {
        const answer = await h.send('GET', `/admin/v1/terminations?limit=${limit}`);
        expect(answer.status, `${limit}: ${answer.text}`).toBe(400);
        expect(answer.json.error).toMatch(/^limit: /);
      }
    });
  });

  describe('properties: no generated request gets a 5xx', () => {
    const property = async <T>(arbitrary: fc.Arbitrary<T>, run: (input: T) => Promise<void>) => {
      await fc.assert(fc.asyncProperty(arbitrary, run), {
        numRuns: RUNS,
        seed: Number(process.env.HOSTILE_SEED ?? 20261207),
        endOnFailure: true,
      });
    };
    const noServerError = (what: string, answer: HostileAnswer, input: unknown) => {
      if (answer.status >= 500)
        throw new Error(`${what}: ${answer.status} ${answer.text.slice(0, 300)} for ${JSON.stringify(input).slice(0, 200)}`);
    };

    /** Arrays and objects nested to a random depth, with random keys (prototype names among them). */
    const nestedJson = fc
      .tuple(
        fc.integer({ min: 1, max: 400 }),
        fc.array(fc.constantFrom('array', 'object'), { minLength: 1, maxLength: 4 }),
        fc.constantFrom('a', '__proto__', 'constructor', 'userName', 'subject'),
      )
      .map(([depth, kinds, key]) => {
        let text = '"leaf"';
        for (let level = 0; level < depth; level += 1)
          text = kinds[level % kinds.length] === 'array' ? `[${text}]` : `{${JSON.stringify(key)}:${text}}`;
        return { depth, text };
      });

    it('nested JSON on every door: never 5xx, and deeper than the bound is 400', async () => {
      let n = 0;
      await property(fc.tuple(nestedJson, fc.constantFrom('whole', 'field')), async ([{ depth, text }, where]) => {
        const wrap = (field: string) => (where === 'whole' ? text : `{${JSON.stringify(field)}:${text}}`);
        const total = where === 'whole' ? depth : depth + 1;
        const answers: Array<[string, HostileAnswer]> = [
          ['scim POST', await h.send('POST', '/scim/v2/Users', { headers: { 'content-type': SCIM_JSON }, body: wrap('name') })],
          [
            'scim PATCH',
            await h.send('PATCH', `/scim/v2/Users/${userId}`, { headers: { 'content-type': SCIM_JSON }, body: wrap('Operations') }),
          ],
          ['admin', await admin(wrap('subject'), '?dryRun=true')],
          ['webhook', await webhook(`msg_nested_${n++}`, wrap('subject'))],
        ];
        for (const [door, answer] of answers) {
          noServerError(door, answer, { depth, where });
          if (total > MAX_JSON_DEPTH) expect(answer.status, `${door} depth ${total}: ${answer.text}`).toBe(400);
        }
      });
    }, 120_000);

    it('playbook names: Object.prototype members and random strings are 400 naming the playbooks, never 5xx', async () => {
      let n = 0;
      await property(
        fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES, 'leaver'), fc.string({ minLength: 1, maxLength: 40 })),
        async (playbook) => {
          const body = JSON.stringify({ subject: { externalId: `P-${n}` }, playbook, dryRun: true });
          const answer = await admin(body);
          noServerError('admin dry run', answer, playbook);
          if (playbook === 'leaver') expect(answer.status, answer.text).toBe(200);
          else if (answer.status === 400 && answer.json.error.startsWith('playbook: unknown'))
            expect(answer.json.error).toContain('expected one of: leaver');
          else expect(answer.status, answer.text).toBe(400);
          const hook = await webhook(`msg_pb_${n++}`, JSON.stringify({ subject: { externalId: `P-${n}` }, playbook }));
          noServerError('webhook', hook, playbook);
        },
      );
    }, 120_000);

    it('admin list query numbers and junk: 400 or 200, never 5xx', async () => {
      const value = fc.oneof(
        fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
        fc.double().map(String),
        fc.constantFrom('', ' ', '1e999', '0x10', '__proto__', 'constructor'),
        fc.string({ maxLength: 12 }),
      );
      await property(
        fc.dictionary(fc.constantFrom('limit', 'cursor', 'since', 'until', 'state', '__proto__', 'constructor'), value, { maxKeys: 3 }),
        async (query) => {
          const answer = await h.send('GET', `/admin/v1/terminations?${new URLSearchParams(query).toString()}`);
          noServerError('admin list', answer, query);
          expect([200, 400], answer.text).toContain(answer.status);
        },
      );
    }, 120_000);
  });
});

describe('slow and idle clients are cut within seconds (headersTimeout 1s, requestTimeout 2s, keepAliveTimeout 1s)', () => {
  let h: HostileDaemon;

  beforeAll(async () => {
    h = await startHostileDaemon({ server: { headersTimeout: '1s', requestTimeout: '2s', keepAliveTimeout: '1s' } });
  });

  afterAll(async () => {
    await h?.stop();
  });

  it('headers sent a line at a time are cut after headersTimeout (408)', async () => {
    const raw = await openRaw(h.daemon.url);
    raw.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
    for (let i = 0; i < 40 && !raw.socket.destroyed; i += 1) {
      raw.socket.write(`x-slow-${i}: still coming\r\n`);
      await sleepUnlessClosed(raw, 200);
    }
    const closedAfter = await Promise.race([raw.closed, new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), 1_000))]);
    raw.socket.destroy();
    expect(raw.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(closedAfter).toBeLessThan(4_000);
  });

  it('an authenticated body sent a byte at a time is cut after requestTimeout (408), not held for minutes', async () => {
    for (const [path, auth] of [
      ['/scim/v2/Users', `Bearer ${HOSTILE_SCIM_TOKEN}`],
      ['/admin/v1/terminations', `Bearer ${HOSTILE_ADMIN_TOKEN}`],
    ] as const) {
      const raw = await openRaw(h.daemon.url);
      raw.socket.write(
        `POST ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${auth}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`,
      );
      for (let i = 0; i < 50 && !raw.socket.destroyed; i += 1) {
        raw.socket.write(' ');
        await sleepUnlessClosed(raw, 200);
      }
      const closedAfter = await Promise.race([raw.closed, new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), 1_000))]);
      raw.socket.destroy();
      expect(raw.received(), path).toMatch(/^HTTP\/1\.1 408 /);
      expect(closedAfter, path).toBeLessThan(5_000);
    }
  });

  it('an idle keep-alive connection is closed after keepAliveTimeout', async () => {
    const raw = await openRaw(h.daemon.url);
    raw.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n');
    await raw.waitFor(/\r\n\r\n\{"status":"ok"\}/, 3_000);
    const closedAfter = await Promise.race([raw.closed, new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), 4_000))]);
    raw.socket.destroy();
    expect(closedAfter).toBeLessThan(4_000);
  });

  it('the server settings are checked: no timeout is 0 (no limit), and headersTimeout may not exceed requestTimeout', () => {
    const problems = (server: Record<string, unknown>) =>
      configSchema.safeParse({ ...h.config, server }).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(problems({ headersTimeout: '20s', requestTimeout: '10s' })).toEqual(['server.headersTimeout: expected at most requestTimeout']);
    for (const key of ['headersTimeout', 'requestTimeout', 'keepAliveTimeout']) {
      expect(problems({ [key]: 0 })).toContain(
        `server.${key}: expected a duration above 0: 0 would let a slow client hold its connection for ever`,
      );
    }
  });
});

describe('names in the config are own properties too', () => {
  const yaml = (extra: string) => `
store: { sqlite: { path: /tmp/never-opened.db } }
providers: { fake: { kind: fake } }
playbooks:
  leaver:
    steps: [{ id: revoke, provider: fake, action: revoke_sessions }]
${extra}`;

  it.each(PROTOTYPE_NAMES)('a step provider, an onFailure provider or a defaultPlaybook named %s is a config error', (name) => {
    const quoted = JSON.stringify(name);
    const cases = [
      [
        yaml(`  other:\n    steps: [{ id: x, provider: ${quoted}, action: revoke_sessions }]\ndefaultPlaybook: leaver`),
        'playbooks.other.steps[0].provider (line 8): expected a provider defined under providers (fake)',
      ],
      [
        yaml(`    onFailure: { provider: ${quoted} }\ndefaultPlaybook: leaver`),
        'playbooks.leaver.onFailure.provider (line 7): expected a notify provider defined under providers',
      ],
      [yaml(`defaultPlaybook: ${quoted}`), 'defaultPlaybook (line 7): expected one of the playbooks: leaver'],
    ] as const;
    for (const [text, problem] of cases) {
      expect(() => parseConfig(text, 'hostile.yaml', {}), text).toThrow(ConfigError);
      expect(() => parseConfig(text, 'hostile.yaml', {}), text).toThrow(problem);
    }
  });

  it.each(PROTOTYPE_NAMES)('${%s} is an unset environment variable, not a member of Object.prototype', (name) => {
    expect(() => parseConfig(yaml(`defaultPlaybook: leaver\nauth: { scim: ["\${${name}}"] }`), 'hostile.yaml', {}), name).toThrow(
      `environment variable ${name} is not set`,
    );
  });
});

/** The admin API's pagination cursor carries a number: beyond a safe integer it is an invalid cursor (400), never a store error (503). */
function cursorContract(backend: Pick<StoreBackend, 'name' | 'open'>): void {
  it(`a cursor holding a number beyond 64 bits is invalid on ${backend.name}`, async () => {
    const database = await backend.open(() => new Date());
    try {
      for (const at of ['1e23', '99999999999999999999999', '-1e308', '1.5', '9223372036854775807']) {
        const cursor = Buffer.from(`[${at},"x"]`).toString('base64url');
        await expect(database.store.listTerminations({ limit: 10, cursor }), at).rejects.toBeInstanceOf(InvalidCursorError);
      }
    } finally {
      await database.dispose();
    }
  });
}

describe('pagination cursors', () => {
  cursorContract(sqliteBackend);
});

describePostgres('pagination cursors on PostgreSQL', (url) => {
  cursorContract(postgresBackend(url));
});
