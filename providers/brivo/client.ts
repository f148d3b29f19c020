/**
 * The Brivo Access API calls the adapter needs, through the shared bearer request path
 * (providers/http/bearer.ts: throttle, the task's AbortSignal plus a per-request timeout,
 * typed errors by Brivo's facts), with the `api-key` header. No retries of its own, except
 * once after a 401 on a cached token (expired: fetch another).
 */
import { PermanentError } from '../contract.ts';
import { BearerClient, type BearerApi, type BearerTokens, type CallContext } from '../http/bearer.ts';
import { noThrottle, type Throttle } from '../http/request.ts';
import type { BrivoConfig } from './config.ts';
import { BRIVO_HTTP_FACTS } from './errors.ts';

const API = '/v1/api';
/** Brivo's largest page. */
const PAGE_SIZE = 100;

export type { CallContext } from '../http/bearer.ts';

/** Every call below is idempotent (GET, PUT to a fixed state, DELETE): the client may send one twice after a 401. */
const BRIVO_API: BearerApi = { provider: 'Brivo', facts: BRIVO_HTTP_FACTS, accept: 'application/json', contentType: 'application/json' };

export interface BrivoUser {
  id: string;
  externalId: string | null;
  suspended: boolean | null;
}

/** A credential as the adapter keeps it: never the card number or PIN (`referenceId`, `encodedCredential`). */
// A type alias, not an interface: it goes into evidence (JsonObject), which only accepts aliases
// (an interface has no implicit index signature).
export type BrivoCredential = {
  id: string;
  format: string;
};

export class BrivoClient {
  private readonly http: BearerClient;

  /** `throttle`: the provider's request rate limit (see ProviderFactoryContext.throttle). */
  constructor(config: BrivoConfig, tokens: BearerTokens, throttle: Throttle = noThrottle) {
    const connection = { baseUrl: `${config.apiUrl}${API}`, tokens, throttle, timeoutMs: config.requestTimeoutMs };
    this.http = new BearerClient(BRIVO_API, { ...connection, headers: { 'api-key': config.apiKey } });
  }

  /** Null on 404. */
  async getUserByExternalId(externalId: string, ctx: CallContext): Promise<BrivoUser | null> {
    const answer = await this.http.send(
      {
        method: 'GET',
        path: `/users/${encodeURIComponent(externalId)}/external`,
        operation: 'retrieve user by external id',
        allowed: [404],
      },
      ctx,
    );
    return answer.status === 404 ? null : toUser(answer.body);
  }

  /**
   * Users whose TEXT custom field exactly equals `value`. Brivo's filter grammar has no
   * escaping: `,` separates values and `;` separates filters, so a value holding either
   * could widen the filter; such a value is refused instead of being sent.
   */
  async findUsersByCustomField(customFieldId: number, value: string, ctx: CallContext): Promise<{ count: number; users: BrivoUser[] }> {
    if (/[,;]/.test(value)) {
      throw new PermanentError('Brivo resolve: the lookup value contains "," or ";", which Brivo filters cannot express safely');
    }
    const query = new URLSearchParams({ filter: `cf_${customFieldId}__exact:${value}`, pageSize: '2' });
    const { body } = await this.http.send(
      { method: 'GET', path: `/users?${query.toString()}`, operation: 'list users (custom field)', allowed: [] },
      ctx,
    );
    const list = (body ?? {}) as { data?: unknown; count?: unknown };
    const users = (Array.isArray(list.data) ? list.data : []).map(toUser);
    const count = typeof list.count === 'number' ? list.count : users.length;
    return { count: Math.max(count, users.length), users };
  }

  /** The user's custom field values by field id (to confirm a filtered match). */
  async customFields(userId: string, ctx: CallContext): Promise<Map<number, string>> {
    const { body } = await this.http.send(
      { method: 'GET', path: `/users/${encodeURIComponent(userId)}/custom-fields`, operation: 'list user custom fields', allowed: [] },
      ctx,
    );
    const data = (body as { data?: unknown } | null)?.data;
    const fields = new Map<number, string>();
    for (const f of Array.isArray(data) ? data : []) {
      const { id, value } = (f ?? {}) as { id?: unknown; value?: unknown };
      if (typeof id === 'number' && typeof value === 'string') fields.set(id, value);
    }
    return fields;
  }

  /** Null when the user does not exist (404). */
  async getSuspended(userId: string, ctx: CallContext): Promise<boolean | null> {
    const answer = await this.http.send(
      { method: 'GET', path: `/users/${encodeURIComponent(userId)}/suspended`, operation: 'query suspended status', allowed: [404] },
      ctx,
    );
    if (answer.status === 404) return null;
    const suspended = (answer.body as { suspended?: unknown } | null)?.suspended;
    if (typeof suspended !== 'boolean') throw new PermanentError('Brivo query suspended status: answer without suspended');
    return suspended;
  }

  async suspend(userId: string, ctx: CallContext): Promise<'suspended' | 'gone'> {
    const answer = await this.http.send(
      {
        method: 'PUT',
        path: `/users/${encodeURIComponent(userId)}/suspended`,
        body: { suspended: true },
        operation: 'toggle suspended status',
        allowed: [404],
      },
      ctx,
    );
    return answer.status === 404 ? 'gone' : 'suspended';
  }

  /** Every credential assigned to the user, all pages. */
  async listCredentials(userId: string, ctx: CallContext): Promise<BrivoCredential[]> {
    const credentials: BrivoCredential[] = [];
    for (let offset = 0; ; offset += PAGE_SIZE) {
      const query = new URLSearchParams({ offset: String(offset), pageSize: String(PAGE_SIZE) });
      const { body } = await this.http.send(
        {
          method: 'GET',
          path: `/users/${encodeURIComponent(userId)}/credentials?${query.toString()}`,
          operation: 'retrieve assigned credentials',
          allowed: [],
        },
        ctx,
      );
      const page = (body ?? {}) as { data?: unknown; count?: unknown };
      const data = Array.isArray(page.data) ? page.data : [];
      for (const c of data) credentials.push(toCredential(c));
      const count = typeof page.count === 'number' ? page.count : credentials.length;
      if (data.length === 0 || credentials.length >= count) return credentials;
    }
  }

  /** `gone` when the credential is no longer assigned (404). */
  async removeCredential(userId: string, credentialId: string, ctx: CallContext): Promise<'removed' | 'gone'> {
    const path = `/users/${encodeURIComponent(userId)}/credentials/${encodeURIComponent(credentialId)}`;
    const answer = await this.http.send({ method: 'DELETE', path, operation: 'remove credential from user', allowed: [404] }, ctx);
    return answer.status === 404 ? 'gone' : 'removed';
  }

  async probe(ctx: CallContext): Promise<void> {
    await this.http.send({ method: 'GET', path: '/users?pageSize=1', operation: 'list users (probe)', allowed: [] }, ctx);
  }
}

function toUser(value: unknown): BrivoUser {
  const u = (value ?? {}) as { id?: unknown; externalId?: unknown; suspended?: unknown };
  if (typeof u.id !== 'number' && typeof u.id !== 'string') throw new PermanentError('Brivo: a user without an id');
  return {
    id: String(u.id),
    externalId: typeof u.externalId === 'string' ? u.externalId : null,
    suspended: typeof u.suspended === 'boolean' ? u.suspended : null,
  };
}

function toCredential(value: unknown): BrivoCredential {
  const c = (value ?? {}) as { id?: unknown; credentialFormat?: { name?: unknown } };
  if (typeof c.id !== 'number' && typeof c.id !== 'string') throw new PermanentError('Brivo: a credential without an id');
  return { id: String(c.id), format: typeof c.credentialFormat?.name === 'string' ? c.credentialFormat.name : 'unknown' };
}
