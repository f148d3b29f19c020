/**
 * Builds the Okta SDK client the way the engine needs it: no retries of its own, no
 * response cache, a per-request timeout, and the task's AbortSignal on every request.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Client, DefaultRequestExecutor } from '@okta/okta-sdk-nodejs';
import { deadlineSignal } from '../contract.ts';
import type { OktaConfig } from './config.ts';

/**
 * The SDK's generated API methods take no AbortSignal, so the signal of the task being
 * run travels to the request executor through async context instead.
 */
const requestSignal = new AsyncLocalStorage<AbortSignal>();

/** Runs `fn` (SDK calls, including lazy collection pages) under `signal`. */
export function withSignal<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  return requestSignal.run(signal, fn);
}

/**
 * `maxRetries: 0` lives on the executor, not on the Client config: a Client built with
 * `{ maxRetries: 0 }` still gets a default executor that retries every 429 twice.
 */
type RequestOptions = Parameters<DefaultRequestExecutor['fetch']>[0];

class EngineRequestExecutor extends DefaultRequestExecutor {
  constructor(
    private readonly timeoutMs: number,
    private readonly throttle: (signal?: AbortSignal) => Promise<void>,
  ) {
    super({ maxRetries: 0, requestTimeout: 0 });
  }

  override async fetch(request: RequestOptions): Promise<Awaited<ReturnType<DefaultRequestExecutor['fetch']>>> {
    const taskSignal = requestSignal.getStore();
    // The provider's request rate limit, shared by every task of this process.
    await this.throttle(taskSignal);
    const deadline = deadlineSignal(this.timeoutMs);
    const signals = [deadline.signal];
    if (taskSignal) signals.push(taskSignal);
    // Mutated in place: the SDK passes its own RequestContext, whose prototype carries the body.
    (request as { signal?: AbortSignal }).signal = AbortSignal.any(signals);
    try {
      return await super.fetch(request);
    } finally {
      // Disarmed at the answer's headers: an armed timer holds its signal until it fires, and
      // the SDK reads the body later, out of our hands. The attempt's deadline bounds that read.
      deadline.cancel();
    }
  }
}

export type OktaClient = Client;

export function createOktaClient(
  config: OktaConfig,
  throttle: (signal?: AbortSignal) => Promise<void> = async () => undefined,
): OktaClient {
  const common = {
    orgUrl: config.orgUrl,
    requestExecutor: new EngineRequestExecutor(config.requestTimeoutMs, throttle),
    // The default cache keys users by their absolute self link and never expires them:
    // a read-back after suspend would see the old status.
    cacheMiddleware: null,
  };
  if ('token' in config) return new Client({ ...common, token: config.token });
  return new Client({
    ...common,
    authorizationMode: 'PrivateKey',
    clientId: config.clientId,
    scopes: config.scopes,
    privateKey: config.privateKey,
    ...(config.keyId ? { keyId: config.keyId } : {}),
  });
}
