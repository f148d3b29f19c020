/**
 * The Brivo Access API calls the adapter needs, on Node's fetch: `api-key` and bearer
 * headers, the task's AbortSignal plus a per-request timeout, typed errors. No retries of
 * its own, except once after a 401 on a cached token (expired: fetch another). Every
 * call here is idempotent (GET, PUT to a fixed state, DELETE).
 */
import { PermanentError } from '../contract.ts';
import { fetchOnce, sendWithBearer } from '../http/bearer.ts';
import type { BrivoConfig } from './config.ts';
import { describeBrivoError, errorForNetwork, errorForStatus } from './errors.ts';
import type { BrivoTokenSource } from './token.ts';

const API = '/v1/api';
/** Brivo's largest page. */
const PAGE_SIZE = 100;

export interface CallContext {
  signal: AbortSignal;
  now: () => Date;
}

export interface BrivoUser {
  id: string;
  externalId: string | null;
  suspended: boolean | null;
}

/** A credential as the adapter keeps it: never the card number or PIN (`referenceId`, `encodedCredential`). */
// A type alias, not an interface: it goes into evidence (JsonObject), which only accepts aliases.
export type BrivoCredential = {
  id: string;
  format: string;
};

export class BrivoClient {
  constructor(
    private readonly config: BrivoConfig,
    private readonly tokens: BrivoTokenSource,
    /** The provider's request rate limit (see ProviderFactoryContext.throttle). */
    private readonly throttle: (signal?: AbortSignal) => Promise<void> = async () => undefined,
  ) {}

  /** Null on 404. */
  async getUserByExternalId(externalId: string, ctx: CallContext): Promise<BrivoUser | null> {
    const answer = await this.send('GET', `/users/${encodeURIComponent(externalId)}/external`, undefined, 'retrieve user by external id', ctx, [404]);
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
    const { body } = await this.send('GET', `/users?${query.toString()}`, undefined, 'list users (custom field)', ctx, []);
    const list = (body ?? {}) as { data?: unknown; count?: unknown };
    const users = (Array.isArray(list.data) ? list.data : []).map(toUser);
    const count = typeof list.count === 'number' ? list.count : users.length;
    return { count: Math.max(count, users.length), users };
  }

  /** The user's custom field values by field id (to confirm a filtered match). */
  async customFields(userId: string, ctx: CallContext): Promise<Map<number, string>> {
    const { body } = await this.send('GET', `/users/${encodeURIComponent(userId)}/custom-fields`, undefined, 'list user custom fields', ctx, []);
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
    const answer = await this.send('GET', `/users/${encodeURIComponent(userId)}/suspended`, undefined, 'query suspended status', ctx, [404]);
    if (answer.status === 404) return null;
    const suspended = (answer.body as { suspended?: unknown } | null)?.suspended;
    if (typeof suspended !== 'boolean') throw new PermanentError('Brivo query suspended status: answer without suspended');
    return suspended;
  }

  async suspend(userId: string, ctx: CallContext): Promise<'suspended' | 'gone'> {
    const answer = await this.send('PUT', `/users/${encodeURIComponent(userId)}/suspended`, { suspended: true }, 'toggle suspended status', ctx, [404]);
    return answer.status === 404 ? 'gone' : 'suspended';
  }

  /** Every credential assigned to the user, all pages. */
  async listCredentials(userId: string, ctx: CallContext): Promise<BrivoCredential[]> {
    const credentials: BrivoCredential[] = [];
    for (let offset = 0; ; offset += PAGE_SIZE) {
      const query = new URLSearchParams({ offset: String(offset), pageSize: String(PAGE_SIZE) });
      const { body } = await this.send('GET', `/users/${encodeURIComponent(userId)}/credentials?${query.toString()}`, undefined, 'retrieve assigned credentials', ctx, []);
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
    const answer = await this.send('DELETE', path, undefined, 'remove credential from user', ctx, [404]);
    return answer.status === 404 ? 'gone' : 'removed';
  }

  async probe(ctx: CallContext): Promise<void> {
    await this.send('GET', '/users?pageSize=1', undefined, 'list users (probe)', ctx, []);
  }

  private async send(
    method: 'GET' | 'PUT' | 'DELETE',
    path: string,
    body: unknown,
    operation: string,
    ctx: CallContext,
    allowed: number[],
  ): Promise<{ status: number; body: unknown }> {
    return sendWithBearer(this.tokens, ctx.signal, (token) => this.fetchOnce(method, path, body, token, operation, ctx), {
      allowed,
      // A body that is not JSON reads as null: Mashery answers with HTML (`<h1>Developer Inactive</h1>`).
      refused: (response, parsed) => {
        const message = `Brivo ${operation}: HTTP ${response.status}${describeBrivoError(response.headers, parsed)}`;
        return errorForStatus(response.status, response.headers, message, ctx.now().getTime());
      },
    });
  }

  private fetchOnce(method: string, path: string, body: unknown, token: string, operation: string, ctx: CallContext): Promise<Response> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${token}`,
      'api-key': this.config.apiKey,
      accept: 'application/json',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return fetchOnce(`${this.config.apiUrl}${API}${path}`, {
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
