/**
 * The lease fence where a request meets its socket (src/startup/connection-fence.ts): on the
 * thread that runs attempts, a request of an attempt whose lease ran short is not written,
 * whichever HTTP stack carries it, even when the lease runs short after the request was
 * handed over (a freeze between the throttle's check and the socket). Outside an attempt
 * nothing changes. Against the Okta sandbox, whose request log shows what arrived.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oktaModule } from '../providers/okta/index.ts';
import type { RunningSandbox } from '../providers/sandbox/kit.ts';
import { LeaseLostError, monotonicMs, withinLease, type LeaseWindow } from '../src/engine/lease-fence.ts';
import { installConnectionFence } from '../src/startup/connection-fence.ts';
import { errorForNetwork } from '../providers/http/errors.ts';

let sandbox: RunningSandbox;
beforeAll(async () => {
  installConnectionFence();
  sandbox = await oktaModule.startSandbox({ autoProvision: true });
});
afterAll(async () => sandbox.close());

const held = (): LeaseWindow => ({ deadline: monotonicMs() + 60_000, marginMs: 1_000 });
const short = (): LeaseWindow => ({ deadline: monotonicMs() + 100, marginMs: 1_000 });
const path = '/api/v1/users?limit=1';

/** One GET through Node's http module (node-fetch's path), settled as a status or an error. */
function httpGet(): Promise<number | Error> {
  return new Promise((resolve) => {
    try {
      const request = http.get(`${sandbox.url}${path}`, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', resolve);
    } catch (error) {
      resolve(error as Error);
    }
  });
}

const arrived = () => sandbox.control.requests.filter((r) => r.path.startsWith('/api/v1/users')).length;

describe('the connection fence', () => {
  it('leaves requests outside an attempt alone, on both stacks', async () => {
    const before = arrived();
    expect((await fetch(`${sandbox.url}${path}`)).status).toBe(401);
    expect(await httpGet()).toBe(401);
    expect(arrived()).toBe(before + 2);
  });

  it('lets an attempt whose lease holds through', async () => {
    const before = arrived();
    expect(await withinLease(held(), async () => (await fetch(`${sandbox.url}${path}`)).status)).toBe(401);
    expect(await withinLease(held(), () => httpGet())).toBe(401);
    expect(arrived()).toBe(before + 2);
  });

  it('writes nothing for an attempt whose lease ran short: fetch (undici)', async () => {
    const before = arrived();
    const failure = await withinLease(short(), () =>
      fetch(`${sandbox.url}${path}`).then(
        () => null,
        (error: unknown) => error,
      ),
    );
    expect((failure as Error & { cause?: unknown }).cause).toBeInstanceOf(LeaseLostError);
    expect(arrived()).toBe(before);
  });

  it('writes nothing for an attempt whose lease ran short: the http module (node-fetch)', async () => {
    const before = arrived();
    expect(await withinLease(short(), () => httpGet())).toBeInstanceOf(LeaseLostError);
    expect(arrived()).toBe(before);
  });

  it('writes nothing on a connection that completes after the lease was lost', async () => {
    http.globalAgent.destroy(); // no kept-alive socket: this request opens a new connection
    const before = arrived();
    const window = held();
    const outcome = await withinLease(window, () => {
      const pending = httpGet();
      // Handed to the agent with the lease held; lost before the connection completes.
      window.lost = true;
      return pending;
    });
    expect(outcome).toBeInstanceOf(LeaseLostError);
    expect(arrived()).toBe(before);
  });

  it('writes nothing on a kept-alive connection when the lease is lost after the agent took the request', async () => {
    // A connection left free in the agent's pool: the next request is given it without connecting.
    expect(await httpGet()).toBe(401);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = arrived();
    const window = held();
    const outcome = await withinLease(window, () => {
      const pending = httpGet();
      // Checked when the agent took it; lost in the tick before its bytes are written (a freeze there).
      window.lost = true;
      return pending;
    });
    expect(outcome).toBeInstanceOf(LeaseLostError);
    expect(arrived()).toBe(before);
  });
});

describe('a fetch refused by the fence, as the adapters see it', () => {
  it("stays the fence's error, so the attempt goes back to the queue without using one", () => {
    const fenced = new LeaseLostError("the task's lease ends in 0 ms");
    expect(errorForNetwork(new TypeError('fetch failed', { cause: fenced }), 'SCIM get')).toBe(fenced);
    expect(
      errorForNetwork(
        new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }),
        'SCIM get',
      ).message,
    ).toBe('SCIM get: no answer (TypeError ECONNREFUSED)');
  });
});
