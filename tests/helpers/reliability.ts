/**
 * Shared pieces of the reliability and security suites (tests/reliability-*.test.ts,
 * tests/security-*.test.ts): the PostgreSQL run policy, intake clients (signed webhook,
 * SCIM create + deactivate) that retry until acknowledged, sandbox state, and bounded waits.
 */
import { createServer } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { pgAdmin } from './postgres.ts';

export const SCIM_JSON = 'application/scim+json';
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a truthy value; fails after `timeoutMs` naming `what`. */
export async function waitFor<T>(
  check: () => Promise<T | null | undefined | false>,
  what: string,
  timeoutMs = 15_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A free TCP port on 127.0.0.1 (so a restarted daemon listens where clients already point). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** mulberry32 (the sandboxes' own generator): printed seeds make a run repeatable. */
export { seededRandom as seeded } from '../../providers/sandbox/faults.ts';

export { describePostgres, newSchemaName, pgAdmin } from './postgres.ts';

export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = await pgAdmin(url);
  try {
    await client.query(`drop schema if exists ${schema}, ${schema}_keyring cascade`);
  } finally {
    await client.end();
  }
}

export async function sandboxWrites(baseUrl: string): Promise<Record<string, number>> {
  const res = await fetch(`${baseUrl}/__sandbox/state`);
  if (!res.ok) throw new Error(`sandbox state at ${baseUrl}: ${res.status}`);
  return ((await res.json()) as { writes: Record<string, number> }).writes;
}

export interface HttpAnswer {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

/** One request; a connection failure (daemon down) answers status 0. Bounded by `timeoutMs`. */
export async function request(url: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<HttpAnswer> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 10_000) });
    const text = await res.text();
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    return { status: res.status, body, text, headers: res.headers };
  } catch {
    return { status: 0, body: null, text: '', headers: new Headers() };
  }
}

export function signedWebhook(secret: string, id: string, body: string, at = new Date()): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}

/** What an acknowledged termination request left us to check. */
export interface Acknowledged {
  index: number;
  via: 'webhook' | 'scim-patch' | 'scim-delete';
  email: string;
  /** Webhook: the termination id answered. SCIM: the user id (the termination is found by source event). */
  terminationId?: string;
  userId?: string;
  /** Answers that were not 2xx before the acknowledgement (daemon down, 5xx): retried. */
  retries: number;
}

/**
 * Clients that behave like an HRIS and an IdP: each request is retried (the same
 * webhook-id, the same SCIM calls) until it is acknowledged, as real senders do.
 */
export function intakeClients(options: { baseUrl: () => string; scimToken: string; webhookSecret: string; deadline: number }) {
  const { scimToken, webhookSecret } = options;
  const scimHeaders = { authorization: `Bearer ${scimToken}`, 'content-type': SCIM_JSON, accept: SCIM_JSON };
  const retrying = async (what: string, call: () => Promise<HttpAnswer>, ok: (a: HttpAnswer) => boolean, counter: { retries: number }) => {
    for (let attempt = 0; ; attempt += 1) {
      const answer = await call();
      if (ok(answer)) return answer;
      if (Date.now() > options.deadline)
        throw new Error(`${what}: not acknowledged before the deadline (last ${answer.status} ${answer.text.slice(0, 200)})`);
      if (answer.status !== 0 && answer.status < 500)
        throw new Error(`${what}: refused with ${answer.status} ${answer.text.slice(0, 300)}`);
      counter.retries += 1;
      await sleep(Math.min(500, 50 * 2 ** Math.min(attempt, 4)));
    }
  };

  return {
    async webhook(index: number, email: string, id: string): Promise<Acknowledged> {
      const ack: Acknowledged = { index, via: 'webhook', email, retries: 0 };
      const body = JSON.stringify({ subject: { userName: email, emails: [email] }, reason: 'reliability test' });
      const answer = await retrying(
        `webhook ${id}`,
        () =>
          request(`${options.baseUrl()}/webhooks/termination`, { method: 'POST', headers: signedWebhook(webhookSecret, id, body), body }),
        (a) => a.status === 200 || a.status === 201,
        ack,
      );
      ack.terminationId = (answer.body as { terminationId: string }).terminationId;
      return ack;
    },

    /** POST /Users (a 409 after a lost answer is looked up), then PATCH active=false or DELETE. */
    async scim(index: number, email: string, how: 'scim-patch' | 'scim-delete'): Promise<Acknowledged> {
      const ack: Acknowledged = { index, via: how, email, retries: 0 };
      const created = await retrying(
        `SCIM create ${email}`,
        () =>
          request(`${options.baseUrl()}/scim/v2/Users`, {
            method: 'POST',
            headers: scimHeaders,
            body: JSON.stringify({
              schemas: [USER_SCHEMA],
              userName: email,
              active: true,
              emails: [{ value: email, primary: true, type: 'work' }],
            }),
          }),
        (a) => a.status === 201 || a.status === 409,
        ack,
      );
      let id = created.status === 201 ? (created.body as { id: string }).id : undefined;
      if (!id) {
        const found = await retrying(
          `SCIM lookup ${email}`,
          () =>
            request(`${options.baseUrl()}/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}`, { headers: scimHeaders }),
          (a) => a.status === 200,
          ack,
        );
        id = (found.body as { Resources: Array<{ id: string }> }).Resources[0]?.id;
        if (!id) throw new Error(`SCIM ${email}: 409 on create, but no such user`);
      }
      ack.userId = id;
      const userUrl = `${options.baseUrl()}/scim/v2/Users/${id}`;
      if (how === 'scim-patch') {
        await retrying(
          `SCIM PATCH ${email}`,
          () =>
            request(userUrl, {
              method: 'PATCH',
              headers: scimHeaders,
              body: JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] }),
            }),
          (a) => a.status === 200,
          ack,
        );
      } else {
        // A 404 on a retried DELETE means the earlier one committed (its answer was lost).
        const tries = { retries: 0 };
        await retrying(
          `SCIM DELETE ${email}`,
          () => request(userUrl, { method: 'DELETE', headers: scimHeaders }),
          (a) => a.status === 204 || (a.status === 404 && tries.retries > 0),
          tries,
        );
        ack.retries += tries.retries;
      }
      return ack;
    },
  };
}
