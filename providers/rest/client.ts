/**
 * The requests of a `rest` provider: templates rendered for the call, the configured auth
 * added, sent once through the shared `fetchOnce` (throttle and lease fence, signal,
 * per-request timeout, bounded answer), and every answer that is not a 2xx (or one the call
 * accepts) turned into a typed error by status alone. Messages name the provider, the call and
 * the status; never the URL (it holds the subject's identifiers), a header or the answer.
 */
import { errorForStatus, refusalMessage, type ProviderHttpFacts } from '../http/errors.ts';
import { readJsonBody } from '../http/bearer.ts';
import { fetchOnce, type Throttle } from '../http/request.ts';
import type { RestConfig, RestRequestConfig } from './config.ts';
import { parseBody, parseTemplate, render, renderBody, type BodyTemplate, type ParsedTemplate, type TemplateView } from './template.ts';

/**
 * An in-house system that asks for a pause without saying how long: a second, then the
 * engine's own backoff. Everything else is the common mapping (providers/http/errors.ts).
 */
export const REST_HTTP_FACTS: ProviderHttpFacts = { defaultRetryAfterMs: 1000 };

/** A request of the config with its templates parsed. */
export interface CompiledRequest {
  method: string;
  url: ParsedTemplate;
  headers: Array<[string, ParsedTemplate]>;
  body?: BodyTemplate;
}

export function compileRequest(request: RestRequestConfig): CompiledRequest {
  return {
    method: request.method,
    url: parseTemplate(request.url),
    headers: Object.entries(request.headers ?? {}).map(([name, value]) => [name, parseTemplate(value)]),
    body: request.body === undefined ? undefined : parseBody(request.body),
  };
}

export interface RestAnswer {
  status: number;
  /** The answer as JSON; null when empty or not JSON. */
  body: unknown;
}

export interface RestCall {
  request: CompiledRequest;
  view: TemplateView;
  /** Names the call in messages: `export_data poll`. */
  operation: string;
  /** Statuses beyond 2xx that are answers, not failures (`alreadyDone`, `absentStatuses`). */
  accepted: readonly number[];
  signal: AbortSignal;
  nowMs: number;
}

export class RestClient {
  constructor(
    readonly name: string,
    private readonly config: RestConfig,
    private readonly throttle: Throttle,
  ) {}

  async send(call: RestCall): Promise<RestAnswer> {
    const what = `${this.name} ${call.operation}`;
    const { request, view } = call;
    const headers: Record<string, string> = { accept: 'application/json' };
    for (const [name, value] of request.headers) headers[name.toLowerCase()] = render(value, view, 'header', what);
    const { auth } = this.config;
    if (auth.type === 'bearer') headers.authorization = `Bearer ${auth.token}`;
    else headers[auth.name.toLowerCase()] = auth.value;
    const { idempotencyHeader } = this.config;
    const taskId = view.taskId;
    if (
      request.method !== 'GET' &&
      idempotencyHeader &&
      typeof taskId === 'string' &&
      !Object.hasOwn(headers, idempotencyHeader.toLowerCase())
    ) {
      headers[idempotencyHeader.toLowerCase()] = taskId;
    }
    let body: string | undefined;
    if (request.body !== undefined) {
      body = JSON.stringify(renderBody(request.body, view, what));
      headers['content-type'] = 'application/json';
    }
    const response = await fetchOnce(`${this.config.baseUrl}${render(request.url, view, 'url', what)}`, {
      method: request.method,
      headers,
      body,
      signal: call.signal,
      timeoutMs: this.config.requestTimeoutMs,
      throttle: this.throttle,
      summary: what,
      maxResponseBytes: this.config.maxResponseBytes,
    });
    const json = await readJsonBody(response);
    if (response.ok || call.accepted.includes(response.status)) return { status: response.status, body: json };
    const answer = { status: response.status, headers: response.headers };
    throw errorForStatus(answer, refusalMessage(what, answer, REST_HTTP_FACTS), REST_HTTP_FACTS, call.nowMs);
  }
}
