/**
 * One rule on every door (SCIM, webhook, admin API): a store outage, recognised by the
 * driver's error code, answers 503 with Retry-After; any other failure is a bug and answers
 * 500 with a request id the log line carries too, never a 503 a client retries for ever,
 * and never the failure's own text.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OPERATOR_TOKEN, signedHeaders, startTestDaemon, uniqueSubject, type TestDaemon } from './helpers/admin-daemon.ts';
import { readAnswer, type JsonAnswer } from './helpers/poll.ts';
import { ERROR_SCHEMA, PATCH_OP, USER_SCHEMA } from './helpers/scim-daemon.ts';
import { connectionRefused, pgError, sqliteBusy } from './helpers/store-faults.ts';

const SCIM_TOKEN = `scim-${randomBytes(16).toString('hex')}`;

let t: TestDaemon;

beforeAll(async () => {
  t = await startTestDaemon({ auth: { scim: [SCIM_TOKEN] } });
});

afterAll(async () => {
  await t?.stop();
});

async function scim(method: string, path: string, body?: unknown) {
  const headers: Record<string, string> = { authorization: `Bearer ${SCIM_TOKEN}`, accept: 'application/scim+json' };
  if (body !== undefined) headers['content-type'] = 'application/scim+json';
  return readAnswer(
    await fetch(`${t.url}/scim/v2${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }),
  );
}

async function webhook(subject: object) {
  const raw = JSON.stringify({ subject });
  return readAnswer(await fetch(`${t.url}/webhooks/termination`, { method: 'POST', headers: signedHeaders(raw), body: raw }));
}

async function createUser() {
  const userName = `answers-${randomBytes(6).toString('hex')}@example.com`;
  const created = await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName, externalId: `E-${userName}` });
  expect(created.status, created.text).toBe(201);
  return created.body as { id: string; userName: string };
}

const BUG_TEXT = "Cannot read properties of undefined (reading 'secretive')";
const outages: Array<[string, () => Error]> = [
  ['SQLITE_BUSY', sqliteBusy],
  ['PostgreSQL 57P01', () => pgError('57P01')],
  ['ECONNREFUSED', connectionRefused],
];

/** The log line of a 500 names the same request id as the answer, with the cause. */
function expectLoggedWithId(requestId: unknown) {
  expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
  const line = t.logs.find((l) => l.includes(String(requestId)));
  expect(line, 'a log line with the request id').toBeDefined();
  expect(line).toContain(BUG_TEXT);
}

/** A JSON door's answer to a bug: 500, no Retry-After, the request id and nothing of the cause. */
function expectBugAnswer(answer: JsonAnswer) {
  expect(answer.status, answer.text).toBe(500);
  expect(answer.headers.get('retry-after')).toBeNull();
  expect(answer.body).toEqual({ error: 'internal error', requestId: expect.any(String) });
  expectLoggedWithId(answer.body.requestId);
}

/** A JSON door's answer to a store outage. */
function expectOutageAnswer(answer: JsonAnswer) {
  expect(answer.status, answer.text).toBe(503);
  expect(answer.body).toEqual({ error: 'store unavailable, retry later' });
  expect(answer.headers.get('retry-after')).toBe('5');
}

/** A SCIM GET and a deactivating PATCH of a new user while the directory's getUser fails with `error`; the user afterwards. */
async function scimAnswersWhileGetUserFails(error: Error): Promise<{ answers: JsonAnswer[]; after: JsonAnswer }> {
  const user = await createUser();
  const spy = vi.spyOn(t.daemon.store.directory, 'getUser').mockRejectedValue(error);
  let answers: JsonAnswer[];
  try {
    answers = [
      await scim('GET', `/Users/${user.id}`),
      await scim('PATCH', `/Users/${user.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] }),
    ];
  } finally {
    spy.mockRestore();
  }
  return { answers, after: await scim('GET', `/Users/${user.id}`) };
}

describe('SCIM', () => {
  it('answers a TypeError inside the user service 500 with the SCIM error shape, never 503', async () => {
    const { answers, after } = await scimAnswersWhileGetUserFails(new TypeError(BUG_TEXT));
    for (const answer of answers) {
      expect(answer.status, answer.text).toBe(500);
      expect(answer.body).toMatchObject({ schemas: [ERROR_SCHEMA], status: '500' });
      expect(answer.headers.get('retry-after')).toBeNull();
      expect(answer.text).not.toContain('secretive');
      const requestId = /request id ([0-9a-f-]{36})/.exec(String(answer.body.detail))?.[1];
      expectLoggedWithId(requestId);
    }
    expect(after.status).toBe(200);
  });

  it.each(outages)('answers %s 503 with Retry-After and the SCIM error shape', async (_name, outage) => {
    const { answers } = await scimAnswersWhileGetUserFails(outage());
    for (const answer of answers) {
      expect(answer.status, answer.text).toBe(503);
      expect(answer.body).toMatchObject({ schemas: [ERROR_SCHEMA], status: '503' });
      expect(answer.headers.get('retry-after')).toBe('5');
    }
  });
});

/** The answer to `request` while the store's `call` fails once with `error`. */
async function answerWhileFailing(
  call: 'createTermination' | 'listTerminations' | 'getTermination',
  error: Error,
  request: () => Promise<JsonAnswer>,
): Promise<JsonAnswer> {
  const spy = vi.spyOn(t.daemon.store, call).mockRejectedValueOnce(error);
  try {
    return await request();
  } finally {
    spy.mockRestore();
  }
}

describe('webhook', () => {
  it('answers a bug in a store call 500 with a request id, never 503', async () => {
    expectBugAnswer(await answerWhileFailing('createTermination', new TypeError(BUG_TEXT), () => webhook(uniqueSubject('bug'))));
  });

  it.each(outages)('answers %s 503 with Retry-After', async (_name, outage) => {
    expectOutageAnswer(await answerWhileFailing('createTermination', outage(), () => webhook(uniqueSubject('outage'))));
  });
});

describe('admin API', () => {
  it.each([
    ['GET', '/admin/v1/terminations', 'listTerminations'],
    ['GET', `/admin/v1/terminations/00000000-0000-7000-8000-000000000000`, 'getTermination'],
    ['POST', '/admin/v1/terminations', 'createTermination'],
  ] as const)('answers a bug in %s %s 500 with a request id, never 503', async (method, path, call) => {
    const request = () => t.api(method, path, method === 'POST' ? { body: { subject: uniqueSubject('admin-bug') } } : {});
    expectBugAnswer(await answerWhileFailing(call, new TypeError(BUG_TEXT), request));
  });

  it.each(outages)('answers %s 503 with Retry-After', async (_name, outage) => {
    expectOutageAnswer(
      await answerWhileFailing('listTerminations', outage(), () => t.api('GET', '/admin/v1/terminations', { token: OPERATOR_TOKEN })),
    );
  });
});
