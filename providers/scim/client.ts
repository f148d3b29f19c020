/**
 * A small SCIM 2.0 client on Node's fetch: the calls the adapter needs, each with the
 * task's AbortSignal plus a per-request timeout, the bearer token, and every non-2xx
 * answer mapped to a typed error. It never retries on its own, except once after a 401
 * when the token came from the cache and can be renewed (an expired OAuth token is not
 * a reason to fail the task; a token refused right after issue is).
 */
import { PermanentError } from '../contract.ts';
import { fetchOnce, sendWithBearer } from '../http/bearer.ts';
import type { ScimConfig } from './config.ts';
import { describeScimError, errorForNetwork, errorForStatus } from './errors.ts';
import { lookupFilter, type Lookup } from './filter.ts';
import type { TokenSource } from './token.ts';

export const SCIM_CONTENT_TYPE = 'application/scim+json';
export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export interface CallContext {
  signal: AbortSignal;
  now: () => Date;
}

/** The part of a SCIM User the adapter reads. */
export interface ScimUser {
  id: string;
  userName: string | null;
  externalId: string | null;
  emails: string[];
  /** Absent at some targets; RFC 7643 leaves `active` optional. */
  active: boolean | null;
}

interface ScimAnswer {
  status: number;
  body: unknown;
}

export class ScimClient {
  constructor(
    private readonly config: ScimConfig,
    private readonly tokens: TokenSource,
    /** The provider's request rate limit (see ProviderFactoryContext.throttle). */
    private readonly throttle: (signal?: AbortSignal) => Promise<void> = async () => undefined,
  ) {}

  /** Users matching `lookup eq value`, at most `limit` (asking for 2 is enough to see ambiguity). */
  async findUsers(lookup: Lookup, value: string, ctx: CallContext, limit = 2): Promise<{ total: number; users: ScimUser[] }> {
    const query = new URLSearchParams({ filter: lookupFilter(lookup, value, this.config.emailFilter), count: String(limit) });
    const { body } = await this.send('GET', `/Users?${query.toString()}`, undefined, `list Users (${lookup})`, ctx, []);
    const list = (body ?? {}) as { totalResults?: unknown; Resources?: unknown };
    const resources = Array.isArray(list.Resources) ? list.Resources : [];
    const users = resources.map((r) => toScimUser(r, 'list Users'));
    const total = typeof list.totalResults === 'number' ? list.totalResults : users.length;
    return { total: Math.max(total, users.length), users };
  }

  /** Null on 404: the user does not exist (or no longer). */
  async getUser(id: string, ctx: CallContext): Promise<ScimUser | null> {
    const answer = await this.send('GET', `/Users/${encodeURIComponent(id)}`, undefined, 'get User', ctx, [404]);
    if (answer.status === 404) return null;
    return toScimUser(answer.body, 'get User');
  }

  /** Sends the deactivating PATCH in the configured form; `gone` when the target answers 404. */
  async deactivate(id: string, ctx: CallContext): Promise<'patched' | 'gone'> {
    const operation =
      this.config.patchForm === 'path'
        ? { op: 'replace', path: 'active', value: false }
        : { op: 'replace', value: { active: false } };
    const body = { schemas: [PATCH_OP_SCHEMA], Operations: [operation] };
    const answer = await this.send('PATCH', `/Users/${encodeURIComponent(id)}`, body, 'patch User', ctx, [404]);
    return answer.status === 404 ? 'gone' : 'patched';
  }

  /** `gone` when the user no longer exists. */
  async delete(id: string, ctx: CallContext): Promise<'deleted' | 'gone'> {
    const answer = await this.send('DELETE', `/Users/${encodeURIComponent(id)}`, undefined, 'delete User', ctx, [404]);
    return answer.status === 404 ? 'gone' : 'deleted';
  }

  /** One authenticated read: proves the credentials and the Users permission. */
  async probe(ctx: CallContext): Promise<void> {
    await this.send('GET', '/Users?count=1', undefined, 'list Users (probe)', ctx, []);
  }

  private async send(
    method: 'GET' | 'PATCH' | 'DELETE',
    path: string,
    body: unknown,
    operation: string,
    ctx: CallContext,
    allowed: number[],
  ): Promise<ScimAnswer> {
    // Every call here is idempotent (GET, PATCH to a fixed state, DELETE), so the one
    // more try after a 401 on an expired or revoked cached token is safe.
    return sendWithBearer(this.tokens, ctx.signal, (token) => this.fetchOnce(method, path, body, token, operation, ctx), {
      allowed,
      refused: (response, parsed) => {
        const message = `SCIM ${operation}: HTTP ${response.status}${describeScimError(parsed)}`;
        return errorForStatus(response.status, response.headers, message, ctx.now().getTime());
      },
    });
  }

  private fetchOnce(method: string, path: string, body: unknown, token: string, operation: string, ctx: CallContext): Promise<Response> {
    const headers: Record<string, string> = { accept: `${SCIM_CONTENT_TYPE}, application/json`, authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = SCIM_CONTENT_TYPE;
    return fetchOnce(`${this.config.baseUrl}${path}`, {
      method,
      headers,
      body,
      signal: ctx.signal,
      timeoutMs: this.config.requestTimeoutMs,
      throttle: this.throttle,
      networkError: (error) => errorForNetwork(error, operation),
    });
  }
}

function toScimUser(value: unknown, operation: string): ScimUser {
  const r = (value ?? {}) as Record<string, unknown>;
  if (typeof r.id !== 'string' || r.id === '') throw new PermanentError(`SCIM ${operation}: a User without an id`);
  const emails = Array.isArray(r.emails)
    ? r.emails.map((e) => (e as { value?: unknown })?.value).filter((v): v is string => typeof v === 'string')
    : [];
  return {
    id: r.id,
    userName: typeof r.userName === 'string' ? r.userName : null,
    externalId: typeof r.externalId === 'string' ? r.externalId : null,
    emails,
    active: activeOf(r.active),
  };
}

/** Some targets (Entra-style) send booleans as the strings "True"/"False". */
function activeOf(value: unknown): boolean | null {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  return null;
}
