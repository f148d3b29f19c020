/**
 * The request path of the fetch-based API clients that carry an OAuth bearer token (Brivo,
 * SCIM): one request through `fetchOnce`, one more try with a new token after a 401 on a
 * cached token that can be renewed, and every other answer mapped by the provider's facts.
 */
import type { IssuedToken } from './cached-token.ts';
import { errorForStatus, refusalMessage, type ProviderHttpFacts } from './errors.ts';
import { fetchOnce, type Throttle } from './request.ts';

export interface BearerTokens {
  /** Without a signal the caller waits for a token request in flight to settle. */
  get(signal?: AbortSignal): Promise<IssuedToken>;
  /** The target refused the token (401): forget it so the next call fetches another. */
  invalidate(generation: number): void;
  /** False for a static token: a 401 cannot be cured by asking again. */
  readonly renewable: boolean;
}

/**
 * A token given in the config (Slack, GitHub EMU, Atlassian...): never renewed, so a 401 to it
 * is the operator's to fix, not a reason to ask again.
 */
export function staticBearerToken(value: string): BearerTokens {
  const token = { value, generation: 1, fresh: false };
  return {
    get: async () => token,
    invalidate: () => {
      // A token from the config cannot be replaced: a refusal of it is the operator's to fix.
    },
    renewable: false,
  };
}

export interface BearerAnswer {
  status: number;
  /** The body as JSON; null when empty, on 204, or when it is not JSON. */
  body: unknown;
}

/** What a provider's API is, for the client: the same for every instance. */
export interface BearerApi {
  /** Names the provider in every message: `Brivo`, `SCIM`. */
  provider: string;
  facts: ProviderHttpFacts;
  /** Sent with every request. */
  accept: string;
  /** The content type of a request body (JSON, or SCIM's `application/scim+json`). */
  contentType: string;
}

/** Where and how one provider instance is reached. */
export interface BearerConnection {
  /** Request paths are appended to it. */
  baseUrl: string;
  tokens: BearerTokens;
  throttle: Throttle;
  timeoutMs: number;
  /** More headers sent with every request (Brivo's api-key); Authorization is added here. */
  headers?: Record<string, string>;
}

/** What one call is and which answers it takes. */
export interface BearerCall {
  method: string;
  /** Appended to the connection's base URL; segments already encoded. */
  path: string;
  /** Sent as JSON, with the API's content type, when defined. */
  body?: unknown;
  /** Names the call in messages, without request data: `list users (probe)`. */
  operation: string;
  /** Non-2xx statuses that are answers, not failures (404 where "gone" is the success state). */
  allowed: readonly number[];
}

export interface CallContext {
  signal: AbortSignal;
  now: () => Date;
}

export class BearerClient {
  constructor(
    private readonly api: BearerApi,
    private readonly connection: BearerConnection,
  ) {}

  /**
   * Sends the call with a token; when the answer is 401, the token came from the cache
   * and can be renewed (expired or revoked), forgets it and sends once more with a new one.
   * A final 401 forgets the token it was given to. Only for idempotent requests: the
   * request may be sent twice.
   */
  async send(call: BearerCall, ctx: CallContext): Promise<BearerAnswer> {
    const { tokens } = this.connection;
    const { facts, provider } = this.api;
    let token = await tokens.get(ctx.signal);
    let response = await this.fetchWith(token.value, call, ctx.signal);
    if (response.status === 401 && tokens.renewable && !token.fresh) {
      await response.body?.cancel();
      tokens.invalidate(token.generation);
      token = await tokens.get(ctx.signal);
      response = await this.fetchWith(token.value, call, ctx.signal);
    }
    const body = await readJsonBody(response);
    if (response.ok || call.allowed.includes(response.status)) return { status: response.status, body };
    if (response.status === 401) tokens.invalidate(token.generation);
    const answer = { status: response.status, headers: response.headers, body };
    throw errorForStatus(answer, refusalMessage(`${provider} ${call.operation}`, answer, facts), facts, ctx.now().getTime());
  }

  private fetchWith(token: string, call: BearerCall, signal: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { ...this.connection.headers, accept: this.api.accept, authorization: `Bearer ${token}` };
    if (call.body !== undefined) headers['content-type'] = this.api.contentType;
    return fetchOnce(`${this.connection.baseUrl}${call.path}`, {
      method: call.method,
      headers,
      body: call.body === undefined ? undefined : JSON.stringify(call.body),
      signal,
      timeoutMs: this.connection.timeoutMs,
      throttle: this.connection.throttle,
      summary: `${this.api.provider} ${call.operation}`,
    });
  }
}

/** A body that is not JSON reads as null: Mashery answers with HTML (`<h1>Developer Inactive</h1>`). */
export async function readJsonBody(response: Response): Promise<unknown> {
  if (response.status === 204) return null;
  const text = await response.text().catch(() => '');
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
