/**
 * A small client of the admin API for the CLI. The token goes in the Authorization header
 * only: it is never part of a message, so no error path can print it.
 */

export class ApiError extends Error {
  constructor(
    message: string,
    /** HTTP status, or null when the daemon could not be reached. */
    readonly status: number | null,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | undefined>;
  headers?: Record<string, string>;
}

export class AdminClient {
  private readonly base: URL;

  constructor(
    url: string,
    private readonly token: string,
    /** Bound on each request. Default 30s. */
    private readonly timeoutMs = 30_000,
  ) {
    this.base = new URL(url.endsWith('/') ? url : `${url}/`);
  }

  /** Where requests go, without any credentials a URL might carry. */
  get origin(): string {
    return this.base.origin;
  }

  /** The answer's JSON, as the type the caller names (`answers.ts`): the daemon is this CLI's own. */
  async request<T>(method: 'GET' | 'POST', path: string, options: RequestOptions = {}): Promise<T> {
    const { response, text } = await this.send(method, path, options, 'application/json');
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (!response.ok) {
      const { error, details } = (body ?? {}) as { error?: unknown; details?: unknown };
      throw new ApiError(typeof error === 'string' ? error : `HTTP ${response.status}`, response.status, details);
    }
    return body as T;
  }

  /** A non-JSON answer (the evidence page), as text. */
  async text(method: 'GET' | 'POST', path: string, options: RequestOptions = {}): Promise<string> {
    const { response, text } = await this.send(method, path, options, 'text/html, application/json');
    if (!response.ok) throw new ApiError(`HTTP ${response.status}`, response.status);
    return text;
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    options: RequestOptions,
    accept: string,
  ): Promise<{ response: Response; text: string }> {
    const url = new URL(`admin/v1${path}`, this.base);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(key, value);
    const headers: Record<string, string> = { accept, authorization: `Bearer ${this.token}`, ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      // fetch fails with a TypeError whose cause names the socket's error (ECONNREFUSED, ENOTFOUND).
      const reason = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new ApiError(`cannot reach ${this.origin}: ${reason}`, null);
    }
    return { response, text: await response.text() };
  }
}
