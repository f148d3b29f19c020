/**
 * Hostile SCIM queries (issue 23, point 8) against a whole daemon: filters of thousands of
 * terms, attribute lists naming `__proto__` or an operator, paging numbers beyond 64 bits.
 * Named regressions first (each answered 500, 503 or stalled the process before), then
 * fast-check properties: no generated query gets a 5xx.
 *
 * The daemon runs in this process, so the event-loop delay measured here is the daemon's.
 * Knob: HOSTILE_RUNS (inputs per property, default 100).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import fc from 'fast-check';
import SCIMMY from 'scimmy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FILTER_LIMITS } from '../src/intake/scim/filter.ts';
import { MAX_PAGING_NUMBER } from '../src/intake/scim/query.ts';
import { startHostileDaemon, type HostileAnswer, type HostileDaemon } from './helpers/hostile-daemon.ts';

const RUNS = Number(process.env.HOSTILE_RUNS ?? 100);
const SCIM_JSON = 'application/scim+json';
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const SEARCH_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

let h: HostileDaemon;

beforeAll(async () => {
  h = await startHostileDaemon();
  for (const name of ['ada', 'grace']) {
    const created = await h.send('POST', '/scim/v2/Users', {
      headers: { 'content-type': SCIM_JSON },
      body: JSON.stringify({
        schemas: [USER_SCHEMA, ENTERPRISE],
        userName: `${name}@example.com`,
        emails: [{ value: `${name}@example.com`, type: 'work' }],
        [ENTERPRISE]: { employeeNumber: name },
      }),
    });
    expect(created.status, created.text).toBe(201);
  }
});

afterAll(async () => {
  await h?.stop();
});

const search = (body: Record<string, unknown>, path = '/scim/v2/Users/.search') =>
  h.send('POST', path, { headers: { 'content-type': SCIM_JSON }, body: JSON.stringify({ schemas: [SEARCH_REQUEST], ...body }) });

function expectScimError(answer: HostileAnswer, status: number, scimType: string | null): void {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.json?.schemas).toEqual([ERROR_SCHEMA]);
  expect(answer.json?.status).toBe(String(status));
  if (scimType) expect(answer.json?.scimType).toBe(scimType);
}

/** `id eq "n" or …`: short terms, so 12,000 of them fit in the default 256kb body. */
const termsFilter = (terms: number) => Array.from({ length: terms }, (_, i) => `id eq "${i}"`).join(' or ');

describe('named regressions', () => {
  it('a filter of 8,000 to 12,000 terms answers 400 invalidFilter within milliseconds; six at once neither hold /healthz nor stall the event loop 50 ms', async () => {
    const bodies = [8_000, 10_000, 12_000, 8_000, 10_000, 12_000].map((terms) => ({ filter: termsFilter(terms) }));
    // One first, unmeasured: what is measured is the daemon's work, not compiling its code paths.
    expectScimError(await search(bodies[0]!), 400, 'invalidFilter');
    // A stall caused by the code shows in every round. A loaded test machine can also
    // deschedule the process for tens of milliseconds; that shows in some rounds only, so
    // the best of up to twenty rounds (one passing round ends them) is what must stay under
    // the bound. At load 14 on two cores, five were not enough.
    const rounds: Array<{ maxDelayMs: number; slowestMs: number; healthMs: number }> = [];
    while (rounds.length < 20 && !rounds.some((r) => r.maxDelayMs < 50)) {
      const loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      // The histogram records from its second sample on: let it take one before the work starts.
      await new Promise((resolve) => setTimeout(resolve, 15));
      const started = performance.now();
      const [answers, health] = await Promise.all([
        Promise.all(bodies.map(async (body) => ({ answer: await search(body), ms: performance.now() - started }))),
        (async () => {
          const answer = await h.send('GET', '/healthz');
          return { answer, ms: performance.now() - started };
        })(),
      ]);
      // The sampling timer of a stalled loop fires late: let it, or the stall is never recorded.
      await new Promise((resolve) => setTimeout(resolve, 20));
      loop.disable();
      expect(loop.count).toBeGreaterThan(0);
      for (const { answer } of answers) {
        expectScimError(answer, 400, 'invalidFilter');
        expect(answer.json.detail).toContain(`longer than ${FILTER_LIMITS.length} characters`);
      }
      expect(health.answer.status).toBe(200);
      rounds.push({ maxDelayMs: loop.max / 1e6, slowestMs: Math.max(...answers.map((a) => a.ms)), healthMs: health.ms });
    }
    console.log(
      `hostile-scim-query: six filters of 8,000-12,000 terms at once, per round: ${rounds.map((r) => `answered 400 within ${Math.round(r.slowestMs)} ms, /healthz in ${Math.round(r.healthMs)} ms, event-loop delay max ${r.maxDelayMs.toFixed(1)} ms`).join('; ')}`,
    );
    const best = rounds.reduce((a, b) => (a.maxDelayMs <= b.maxDelayMs ? a : b));
    expect(best.maxDelayMs).toBeLessThan(50);
    expect(best.slowestMs).toBeLessThan(2_000);
    expect(best.healthMs).toBeLessThan(1_000);
  }, 120_000);

  it('a filter within the length bound but past the term or nesting bound answers 400 invalidFilter', async () => {
    const tooManyTerms = Array.from({ length: FILTER_LIMITS.terms + 1 }, () => 'id pr').join(' or ');
    expect(tooManyTerms.length).toBeLessThan(FILTER_LIMITS.length);
    const answer = await h.send('GET', `/scim/v2/Users?filter=${encodeURIComponent(tooManyTerms)}`);
    expectScimError(answer, 400, 'invalidFilter');
    expect(answer.json.detail).toContain(`more than ${FILTER_LIMITS.terms} attribute expressions`);

    const tooDeep = `${'not ('.repeat(FILTER_LIMITS.depth + 1)}id pr${')'.repeat(FILTER_LIMITS.depth + 1)}`;
    const deep = await h.send('GET', `/scim/v2/Users?filter=${encodeURIComponent(tooDeep)}`);
    expectScimError(deep, 400, 'invalidFilter');
    expect(deep.json.detail).toContain(`nested deeper than ${FILTER_LIMITS.depth} levels`);

    // At the bounds it is served (an even number of `not`s: every user matches).
    const atBound = `${'not ('.repeat(FILTER_LIMITS.depth)}${Array.from({ length: FILTER_LIMITS.terms }, () => 'userName pr').join(' and ')}${')'.repeat(FILTER_LIMITS.depth)}`;
    const served = await h.send('GET', `/scim/v2/Users?filter=${encodeURIComponent(atBound)}`);
    expect(served.status, served.text).toBe(200);
    expect(served.json.totalResults).toBe(2);
  });

  it("the filter is parsed once per request, by our parser: SCIMMY's parser never sees the client's expression", async () => {
    // A SCIMMY Filter pushes what it parsed onto itself (it is an Array) in its constructor:
    // count the pushes that carry this filter's distinctive literal.
    const expression = 'userName sw "ada" and title ne "spy-7f3a"';
    let parsedBySCIMMY = 0;
    const prototype = SCIMMY.Types.Filter.prototype as unknown as { push?: (...items: unknown[]) => number };
    prototype.push = function (this: unknown[], ...items: unknown[]) {
      if (JSON.stringify(items).includes('spy-7f3a')) parsedBySCIMMY += 1;
      return Array.prototype.push.apply(this, items);
    };
    try {
      const listed = await h.send('GET', `/scim/v2/Users?filter=${encodeURIComponent(expression)}`);
      expect(listed.status, listed.text).toBe(200);
      expect(listed.json.Resources.map((u: { userName: string }) => u.userName)).toEqual(['ada@example.com']);
      const searched = await search({ filter: expression });
      expect(searched.json.totalResults, searched.text).toBe(1);
      const root = await search({ filter: expression }, '/scim/v2/.search');
      expect(root.json.totalResults, root.text).toBe(1);
    } finally {
      delete prototype.push;
    }
    expect(parsedBySCIMMY).toBe(0);
  });

  it.each([
    ['attributes', '__proto__'],
    ['attributes', 'not'],
    ['attributes', 'constructor'],
    ['attributes', 'userName,toString'],
    ['excludedAttributes', '__proto__'],
    ['excludedAttributes', 'not'],
    ['excludedAttributes', 'emails,hasOwnProperty'],
  ])('?%s=%s answers 400 invalidValue naming the attribute', async (param, names) => {
    const answer = await h.send('GET', `/scim/v2/Users?${param}=${encodeURIComponent(names)}`);
    expectScimError(answer, 400, 'invalidValue');
    expect(answer.json.detail).toContain(`${param}: "${names.split(',').at(-1)}" is not an attribute of the User schema`);
    const searched = await search({ [param]: names.split(',') });
    expectScimError(searched, 400, 'invalidValue');
  });

  it('attribute lists of real attributes and sub-attributes are still served', async () => {
    const answer = await h.send(
      'GET',
      `/scim/v2/Users?attributes=${encodeURIComponent('userName,emails.value')}&filter=${encodeURIComponent('userName eq "ada@example.com"')}`,
    );
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json.Resources).toEqual([
      { id: expect.any(String), userName: 'ada@example.com', emails: [{ value: 'ada@example.com' }] },
    ]);
    const excluded = await h.send('GET', `/scim/v2/Users?excludedAttributes=emails`);
    expect(excluded.status, excluded.text).toBe(200);
    expect(excluded.json.Resources.map((u: Record<string, unknown>) => [u.userName, 'emails' in u])).toEqual([
      ['ada@example.com', false],
      ['grace@example.com', false],
    ]);
  });

  it.each([
    ['startIndex', '99999999999999999999999'],
    ['startIndex', '9223372036854775808'],
    ['startIndex', String(MAX_PAGING_NUMBER + 1)],
    ['count', '99999999999999999999999'],
    ['startIndex', '1.5'],
    ['count', 'ten'],
  ])('?%s=%s answers 400 invalidValue, never 503', async (param, value) => {
    const answer = await h.send('GET', `/scim/v2/Users?${param}=${value}`);
    expectScimError(answer, 400, 'invalidValue');
    expect(answer.json.detail).toContain(`${param}: expected an integer`);
    expect(answer.headers.get('retry-after')).toBeNull();
  });

  it('startIndex beyond a 64-bit integer in a .search body answers 400, never 503', async () => {
    for (const path of ['/scim/v2/Users/.search', '/scim/v2/.search']) {
      const answer = await search({ startIndex: 1e23, count: 2 }, path);
      expectScimError(answer, 400, 'invalidValue');
    }
  });

  it('paging at the bound, and below 1 (RFC 7644: read as 1 and 0), is served', async () => {
    const far = await h.send('GET', `/scim/v2/Users?startIndex=${MAX_PAGING_NUMBER}&count=${MAX_PAGING_NUMBER}`);
    expect(far.status, far.text).toBe(200);
    expect(far.json).toMatchObject({ totalResults: 2, itemsPerPage: 0 });
    const low = await h.send('GET', '/scim/v2/Users?startIndex=-4&count=-1');
    expect(low.status, low.text).toBe(200);
    expect(low.json).toMatchObject({ startIndex: 1, totalResults: 2, itemsPerPage: 0 });
  });

  it('a filter on a discovery endpoint answers 403 (RFC 7644 §4), and its other query parameters are ignored', async () => {
    for (const path of ['/Schemas', '/ResourceTypes', '/ServiceProviderConfig']) {
      expectScimError(await h.send('GET', `/scim/v2${path}?filter=${encodeURIComponent('id pr')}`), 403, null);
      const ignored = await h.send('GET', `/scim/v2${path}?attributes=__proto__&startIndex=99999999999999999999999`);
      expect(ignored.status, ignored.text).toBe(200);
    }
  });
});

describe('properties: no generated query gets a 5xx', () => {
  const property = async <T>(arbitrary: fc.Arbitrary<T>, run: (input: T) => Promise<void>) => {
    await fc.assert(fc.asyncProperty(arbitrary, run), {
      numRuns: RUNS,
      seed: Number(process.env.HOSTILE_SEED ?? 20261207),
      endOnFailure: true,
    });
  };
  const noServerError = (answer: HostileAnswer, input: unknown) => {
    if (answer.status >= 500) throw new Error(`${answer.status} ${answer.text.slice(0, 300)} for ${JSON.stringify(input).slice(0, 300)}`);
  };

  const prototypeNames = fc.constantFrom(
    '__proto__',
    'constructor',
    'toString',
    'valueOf',
    'hasOwnProperty',
    'prototype',
    '__defineGetter__',
  );
  const attributeName = fc.oneof(
    fc.constantFrom(
      'userName',
      'emails',
      'emails.value',
      'name.givenName',
      'active',
      'id',
      'meta',
      'meta.created',
      'externalId',
      ENTERPRISE,
      `${ENTERPRISE}:manager`,
      `${ENTERPRISE}:manager.value`,
      USER_SCHEMA,
      `${USER_SCHEMA}:userName`,
    ),
    prototypeNames,
    fc.constantFrom(
      'not',
      'and',
      'or',
      'pr',
      'eq',
      '(',
      ')',
      '[',
      ']',
      '"',
      '',
      ' ',
      '.',
      '..',
      'a.b.c',
      'emails[type eq "work"]',
      'urn:',
      'urn:x:y',
    ),
    fc.string({ maxLength: 20 }),
  );

  it('filters: token soup, huge repetitions and deep nesting, on GET and .search', async () => {
    const token = fc.oneof(
      fc.constantFrom(
        'userName',
        'emails',
        'emails.value',
        'active',
        'id',
        'meta.created',
        `${ENTERPRISE}:employeeNumber`,
        'eq',
        'ne',
        'co',
        'sw',
        'pr',
        'gt',
        'and',
        'or',
        'not',
        '(',
        ')',
        '[',
        ']',
        '"ada"',
        'true',
        'null',
        '1e999',
        '"\\u00"',
      ),
      prototypeNames,
      fc.string({ maxLength: 8 }),
    );
    const filter = fc.oneof(
      fc.array(token, { minLength: 1, maxLength: 30 }).map((t) => t.join(' ')),
      fc
        .tuple(fc.constantFrom('(', 'not (', 'emails['), fc.integer({ min: 1, max: 5_000 }))
        .map(([open, n]) => `${open.repeat(n)}id pr${(open === 'emails[' ? ']' : ')').repeat(n)}`),
      fc
        .tuple(fc.constantFrom(' or ', ' and '), fc.integer({ min: 1, max: 12_000 }))
        .map(([join, n]) => Array.from({ length: n }, (_, i) => `id eq "${i}"`).join(join)),
      fc.string({ unit: 'binary', maxLength: 200 }),
    );
    await property(filter, async (expression) => {
      const body = await search({ filter: expression });
      noServerError(body, expression);
      if (body.status === 400) expect(body.json.scimType, body.text).toMatch(/^(invalidFilter|invalidValue|invalidSyntax)$/);
      if (expression.length < 2_000)
        noServerError(await h.send('GET', `/scim/v2/Users?filter=${encodeURIComponent(expression)}`), expression);
    });
  }, 120_000);

  it('attribute lists: real names are served, anything else is 400 invalidValue', async () => {
    await property(
      fc.tuple(fc.constantFrom('attributes', 'excludedAttributes'), fc.array(attributeName, { minLength: 1, maxLength: 8 })),
      async ([param, names]) => {
        const answer = await h.send('GET', `/scim/v2/Users?${param}=${encodeURIComponent(names.join(','))}`);
        noServerError(answer, names);
        expect([200, 400], answer.text).toContain(answer.status);
        if (answer.status === 400) expect(answer.json.scimType).toBe('invalidValue');
        noServerError(await search({ [param]: names }), names);
      },
    );
  }, 120_000);

  it('paging numbers: huge, negative, fractional, exponent and junk', async () => {
    const number = fc.oneof(
      fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
      fc.double().map(String),
      fc.integer().map(String),
      fc.constantFrom('1e23', '0x10', '', ' ', '+1', '-0', 'NaN', 'Infinity', '١٢'),
      fc.string({ maxLength: 12 }),
    );
    await property(fc.tuple(number, number), async ([startIndex, count]) => {
      const answer = await h.send('GET', `/scim/v2/Users?startIndex=${encodeURIComponent(startIndex)}&count=${encodeURIComponent(count)}`);
      noServerError(answer, { startIndex, count });
      const asNumber = (text: string) => (text.trim() === '' ? text : Number(text));
      noServerError(await search({ startIndex: asNumber(startIndex), count: asNumber(count) }), { startIndex, count });
    });
  }, 120_000);
});
