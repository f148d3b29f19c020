/**
 * The Graph SDK client with a middleware chain of our own, and a thin request helper
 * that turns every answer into data or a typed error.
 *
 * Why not `Client.init({ authProvider })`: its default chain is
 * AuthenticationHandler -> RetryHandler -> RedirectHandler -> TelemetryHandler -> HTTP.
 * - AuthenticationHandler attaches the token only to https URLs whose host is a Graph
 *   host or in `customHosts` (host names only, no port). A plain-http sandbox would get
 *   no Authorization header at all, so auth would go untested.
 * - RetryHandler resends on 429/503/504 for every method, POSTs included, up to 3 times
 *   and sleeping up to 180 s inside one attempt. The engine owns retries (and rate-limit
 *   waits); a resent revokeSignInSessions or invite must be the engine's decision.
 * So the chain here is BearerAuthMiddleware -> HTTPMessageHandler, nothing else.
 */
import {
  Client,
  HTTPMessageHandler,
  ResponseType,
  type Context,
  type Middleware,
  type MiddlewareOptions,
} from '@microsoft/microsoft-graph-client';
import { deadlineSignal, DeprovisionError, PermanentError, TransientError } from '../contract.ts';
import type { BearerTokens } from '../http/bearer.ts';
import { readJsonBody } from '../http/bearer.ts';
import { errorForNetwork, errorForStatus } from '../http/errors.ts';
import { noThrottle, type Throttle } from '../http/request.ts';
import { describeGraphError, GRAPH_HTTP_FACTS } from './errors.ts';

export const GRAPH_VERSION = 'v1.0';

/**
 * Per-request notes between the auth middleware and the caller. The SDK wraps anything a
 * middleware throws into a GraphError with status -1, so the typed error (token refused,
 * rate limited at the token endpoint...) travels back here instead.
 */
class RequestAuth implements MiddlewareOptions {
  generation = 0;
  fresh = false;
  failure: DeprovisionError | null = null;
}

/**
 * Attaches the bearer token to every request for the configured Graph origin, whatever
 * its scheme or port (that is what lets the plain-http sandbox check auth). It replaces
 * the SDK's host allow-list with an exact origin check: the SDK sends absolute https URLs
 * (e.g. a paging link) to whatever host they name, so a request for any other origin is
 * refused rather than handed our token.
 */
export class BearerAuthMiddleware implements Middleware {
  private next: Middleware | undefined;

  constructor(
    private readonly tokens: BearerTokens,
    private readonly origin: string,
  ) {}

  async execute(context: Context): Promise<void> {
    const auth = context.middlewareControl?.getMiddlewareOptions(RequestAuth) as RequestAuth | undefined;
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    const origin = new URL(url).origin;
    if (origin !== this.origin) {
      const refusal = new PermanentError(`refusing to send the Graph token to ${origin}: not the configured Graph origin`);
      if (auth) auth.failure = refusal;
      throw refusal;
    }
    let token;
    try {
      // The request's signal (GraphApi sets it as an option): a task stopped while the token is fetched stops waiting.
      token = await this.tokens.get(context.options?.signal ?? undefined);
    } catch (error) {
      if (auth && error instanceof DeprovisionError) auth.failure = error;
      throw error;
    }
    if (auth) {
      auth.generation = token.generation;
      auth.fresh = token.fresh;
    }
    context.options = { ...context.options, headers: withHeader(context.options?.headers, 'Authorization', `Bearer ${token.value}`) };
    if (!this.next) throw new Error('BearerAuthMiddleware needs a next middleware');
    await this.next.execute(context);
  }

  setNext(next: Middleware): void {
    this.next = next;
  }
}

function withHeader(headers: HeadersInit | undefined, name: string, value: string): HeadersInit {
  if (headers instanceof Headers) {
    const copy = new Headers(headers);
    copy.set(name, value);
    return copy;
  }
  const entries = Array.isArray(headers) ? headers : Object.entries(headers ?? {});
  const kept = entries.filter(([key]) => key.toLowerCase() !== name.toLowerCase());
  return Object.fromEntries([...kept, [name, value]]);
}

export function createGraphClient(baseUrl: string, tokens: BearerTokens): Client {
  const auth = new BearerAuthMiddleware(tokens, new URL(baseUrl).origin);
  return Client.initWithMiddleware({
    baseUrl,
    defaultVersion: GRAPH_VERSION,
    // Order matters: auth first, the network last; no RetryHandler, no RedirectHandler.
    middleware: [auth, new HTTPMessageHandler()],
  });
}

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface GraphCall {
  method: HttpMethod;
  /** Path under the version, e.g. `/users/{id}`; segments already encoded. */
  path: string;
  /** OData query options; values are encoded here (the SDK does not encode them). */
  query?: Record<string, string>;
  body?: unknown;
  signal: AbortSignal;
  /** Answer null instead of throwing on 404 (an account or drive that is not there). */
  notFoundIsNull?: boolean;
  /** Request headers, e.g. `ConsistencyLevel: eventual` for an advanced query (sent on every page). */
  headers?: Record<string, string>;
}

/** Encodes one path segment (a UPN may hold `#`, `'` or `/`). */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

/** An OData string literal: single quotes are doubled. */
export function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export class GraphApi {
  private readonly origin: string;
  private readonly versionRoot: string;
  private readonly timeoutMs: number;

  constructor(
    private readonly client: Client,
    private readonly tokens: BearerTokens,
    { baseUrl, requestTimeoutMs }: { baseUrl: string; requestTimeoutMs: number },
    private readonly now: () => number = Date.now,
    /** The provider's request rate limit (see ProviderFactoryContext.throttle). */
    private readonly throttle: Throttle = noThrottle,
  ) {
    this.timeoutMs = requestTimeoutMs;
    this.origin = new URL(baseUrl).origin;
    this.versionRoot = `${baseUrl.replace(/\/+$/, '')}/${GRAPH_VERSION}`;
  }

  /** The JSON body of a 2xx answer (null for 204, an empty body, or an allowed 404), or a typed error. */
  async call<T = Record<string, unknown>>(call: GraphCall): Promise<T | null> {
    // The caller names the shape Graph documents for this call; a body that is not that shape
    // fails the caller's own field checks, as with any answer read from the network.
    return (await this.send(call)).body as T | null;
  }

  /** Like `call`, with the status: tells a 204 from an allowed 404 (done vs already gone). */
  async send(call: GraphCall): Promise<{ status: number; body: unknown }> {
    const label = `Microsoft Graph ${call.method} ${call.path.split('?')[0]!}`;
    const auth = new RequestAuth();
    await this.throttle(call.signal);
    // Disarmed once the answer is read (below): an armed timer holds its signal until it fires.
    const deadline = deadlineSignal(this.timeoutMs);
    try {
      return await this.sendWithin(call, label, auth, deadline.signal);
    } finally {
      deadline.cancel();
    }
  }

  private async sendWithin(
    call: GraphCall,
    label: string,
    auth: RequestAuth,
    timeout: AbortSignal,
  ): Promise<{ status: number; body: unknown }> {
    let request = this.client
      .api(call.path)
      // RAW: the SDK drops the response headers (Retry-After) whenever an error body is
      // not JSON, so statuses and headers are read here for every answer.
      .responseType(ResponseType.RAW)
      // The attempt's signal plus the per-request timeout; the SDK hands it to fetch and to our auth step.
      .option('signal', AbortSignal.any([call.signal, timeout]))
      .middlewareOptions([auth]);
    if (call.headers) request = request.headers(call.headers);
    if (call.query) {
      const encoded = Object.fromEntries(Object.entries(call.query).map(([k, v]) => [k, encodeURIComponent(v)]));
      request = request.query(encoded);
    }
    // ResponseType.RAW: the SDK answers with fetch's own Response (its methods are typed `any`).
    let response: Response;
    try {
      switch (call.method) {
        case 'GET':
          response = (await request.get()) as Response;
          break;
        case 'POST':
          // No body for actions like revokeSignInSessions: the SDK then sends none.
          response = (await request.post(call.body)) as Response;
          break;
        case 'PATCH':
          response = (await request.patch(call.body)) as Response;
          break;
        case 'DELETE':
          response = (await request.delete()) as Response;
          break;
      }
    } catch (error) {
      if (auth.failure) throw auth.failure;
      // Anything else the SDK throws here (a GraphError with status -1) is fetch failing:
      // refused connection, reset, DNS, abort.
      throw errorForNetwork(error, label, call.signal);
    }
    const body = await readJsonBody(response);
    if (response.ok) return { status: response.status, body };
    if (response.status === 404 && call.notFoundIsNull) return { status: 404, body: null };
    const summary = `${label} answered ${response.status} ${describeGraphError(body)}`;
    if (response.status === 401) {
      // A token Graph refuses is never sent again. A cached one may have been revoked
      // or outlived clock skew: the next attempt fetches a new one, so that is
      // transient. A token fetched for this very request being refused is configuration.
      this.tokens.invalidate(auth.generation);
      if (!auth.fresh) throw new TransientError(summary);
    }
    throw errorForStatus({ status: response.status, headers: response.headers, body }, summary, GRAPH_HTTP_FACTS, this.now());
  }

  /** Follows `@odata.nextLink` pages of a collection and returns every item. */
  async collect<T>(first: GraphCall): Promise<T[]> {
    const items: T[] = [];
    let page = await this.call<{ value?: T[]; '@odata.nextLink'?: string }>(first);
    for (let pages = 1; ; pages += 1) {
      items.push(...(page?.value ?? []));
      const next = page?.['@odata.nextLink'];
      if (!next) return items;
      // A runaway cursor must not loop forever; 1,000 pages of 100 is far past any membership.
      if (pages >= 1000) throw new TransientError(`${first.path}: more than 1000 pages, giving up`);
      page = await this.call({
        method: 'GET',
        path: this.relativeLink(next),
        signal: first.signal,
        ...(first.headers ? { headers: first.headers } : {}),
      });
    }
  }

  /**
   * nextLink is absolute. The SDK only strips https hosts from a path, so it is made
   * relative here, and only when it points at our own Graph root.
   */
  private relativeLink(link: string): string {
    let url: URL;
    try {
      url = new URL(link);
    } catch {
      throw new PermanentError('Graph answered a malformed @odata.nextLink');
    }
    if (url.origin !== this.origin || !link.startsWith(`${this.versionRoot}/`)) {
      throw new PermanentError(`refusing to follow @odata.nextLink to ${url.origin}: not the configured Graph root`);
    }
    return link.slice(this.versionRoot.length);
  }
}
