/**
 * A small SCIM 2.0 client: the calls the adapter needs, through the shared bearer request
 * path (providers/http/bearer.ts: throttle, the task's AbortSignal plus a per-request
 * timeout, every non-2xx answer mapped to a typed error). It never retries on its own,
 * except once after a 401 when the token came from the cache and can be renewed (an
 * expired OAuth token is not a reason to fail the task; a token refused right after issue is).
 */
import { PermanentError } from '../contract.ts';
import { BearerClient, type BearerApi, type BearerTokens, type CallContext } from '../http/bearer.ts';
import { noThrottle, type Throttle } from '../http/request.ts';
import type { ScimConfig } from './config.ts';
import { SCIM_HTTP_FACTS } from './errors.ts';
import { lookupFilter, type Lookup } from './filter.ts';

export const SCIM_CONTENT_TYPE = 'application/scim+json';
export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
/** RFC 7643 section 4.3: the enterprise User extension; its `organization` groups a client's people. */
export const ENTERPRISE_USER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

export type { CallContext } from '../http/bearer.ts';

/** Every call below is idempotent (GET, PATCH to a fixed state, DELETE): the client may send one twice after a 401. */
const SCIM_API: BearerApi = {
  provider: 'SCIM',
  facts: SCIM_HTTP_FACTS,
  accept: `${SCIM_CONTENT_TYPE}, application/json`,
  contentType: SCIM_CONTENT_TYPE,
};

/** The part of a SCIM User the adapter reads. */
export interface ScimUser {
  id: string;
  userName: string | null;
  externalId: string | null;
  emails: string[];
  /** Absent at some targets; RFC 7643 leaves `active` optional. */
  active: boolean | null;
  /** The enterprise extension's `organization`, when the target sends it. */
  organization: string | null;
}

export class ScimClient {
  private readonly http: BearerClient;

  /** `throttle`: the provider's request rate limit (see ProviderFactoryContext.throttle). */
  constructor(
    private readonly config: ScimConfig,
    tokens: BearerTokens,
    throttle: Throttle = noThrottle,
  ) {
    this.http = new BearerClient(SCIM_API, { baseUrl: config.baseUrl, tokens, throttle, timeoutMs: config.requestTimeoutMs });
  }

  /** Users matching `lookup eq value`, at most `limit` (asking for 2 is enough to see ambiguity). */
  async findUsers(lookup: Lookup, value: string, ctx: CallContext, limit = 2): Promise<{ total: number; users: ScimUser[] }> {
    const query = new URLSearchParams({ filter: lookupFilter(lookup, value, this.config.emailFilter), count: String(limit) });
    const { body } = await this.http.send(
      { method: 'GET', path: `/Users?${query.toString()}`, operation: `list Users (${lookup})`, allowed: [] },
      ctx,
    );
    const list = (body ?? {}) as { totalResults?: unknown; Resources?: unknown };
    const resources = Array.isArray(list.Resources) ? list.Resources : [];
    const users = resources.map((r) => toScimUser(r, 'list Users'));
    const total = typeof list.totalResults === 'number' ? list.totalResults : users.length;
    return { total: Math.max(total, users.length), users };
  }

  /**
   * One page of the users a filter finds (RFC 7644 section 3.4.2.4: `startIndex` from 1,
   * `count` per page), with the total the target reports.
   */
  async listPage(filter: string, startIndex: number, count: number, ctx: CallContext): Promise<{ total: number; users: ScimUser[] }> {
    const query = new URLSearchParams({ filter, startIndex: String(startIndex), count: String(count) });
    const { body } = await this.http.send(
      { method: 'GET', path: `/Users?${query.toString()}`, operation: 'list Users (members)', allowed: [] },
      ctx,
    );
    const list = (body ?? {}) as { totalResults?: unknown; Resources?: unknown };
    const resources = Array.isArray(list.Resources) ? list.Resources : [];
    const users = resources.map((r) => toScimUser(r, 'list Users'));
    return { total: typeof list.totalResults === 'number' ? list.totalResults : users.length, users };
  }

  /** Null on 404: the user does not exist (or no longer). */
  async getUser(id: string, ctx: CallContext): Promise<ScimUser | null> {
    const answer = await this.http.send(
      { method: 'GET', path: `/Users/${encodeURIComponent(id)}`, operation: 'get User', allowed: [404] },
      ctx,
    );
    if (answer.status === 404) return null;
    return toScimUser(answer.body, 'get User');
  }

  /** Sends the deactivating PATCH in the configured form; `gone` when the target answers 404. */
  async deactivate(id: string, ctx: CallContext): Promise<'patched' | 'gone'> {
    const operation =
      this.config.patchForm === 'path' ? { op: 'replace', path: 'active', value: false } : { op: 'replace', value: { active: false } };
    const body = { schemas: [PATCH_OP_SCHEMA], Operations: [operation] };
    const answer = await this.http.send(
      { method: 'PATCH', path: `/Users/${encodeURIComponent(id)}`, body, operation: 'patch User', allowed: [404] },
      ctx,
    );
    return answer.status === 404 ? 'gone' : 'patched';
  }

  /** `gone` when the user no longer exists. */
  async delete(id: string, ctx: CallContext): Promise<'deleted' | 'gone'> {
    const answer = await this.http.send(
      { method: 'DELETE', path: `/Users/${encodeURIComponent(id)}`, operation: 'delete User', allowed: [404] },
      ctx,
    );
    return answer.status === 404 ? 'gone' : 'deleted';
  }

  /** One authenticated read: proves the credentials and the Users permission. */
  async probe(ctx: CallContext): Promise<void> {
    await this.http.send({ method: 'GET', path: '/Users?count=1', operation: 'list Users (probe)', allowed: [] }, ctx);
  }
}

function toScimUser(value: unknown, operation: string): ScimUser {
  const r = (value ?? {}) as Record<string, unknown>;
  if (typeof r.id !== 'string' || r.id === '') throw new PermanentError(`SCIM ${operation}: a User without an id`);
  const emails = Array.isArray(r.emails)
    ? r.emails.map((e) => (e as { value?: unknown } | null)?.value).filter((v): v is string => typeof v === 'string')
    : [];
  const enterprise = r[ENTERPRISE_USER];
  const organization = enterprise && typeof enterprise === 'object' ? (enterprise as Record<string, unknown>).organization : undefined;
  return {
    id: r.id,
    organization: typeof organization === 'string' ? organization : null,
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
