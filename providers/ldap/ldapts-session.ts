/**
 * `LdapSession` over a real directory with ldapts: one connection per session, encrypted
 * (LDAPS, or StartTLS before the bind) with only the configured CA trusted when one is
 * given, bound as the service account. ldapts rejects non-success results with an error
 * carrying the result code; this file turns them into `LdapResultError` by that code.
 */
import { AndFilter, Attribute, Change, Client, EqualityFilter, OrFilter, PresenceFilter, type Entry, type Filter } from 'ldapts';
import type { ConnectionOptions } from 'node:tls';
import type { LdapConfig } from './config.ts';
import { LdapResultError, type LdapChange, type LdapEntry, type LdapFilter, type LdapSearch, type LdapSession } from './session.ts';

function toFilter(filter: LdapFilter): Filter {
  if ('and' in filter) return new AndFilter({ filters: filter.and.map(toFilter) });
  if ('or' in filter) return new OrFilter({ filters: filter.or.map(toFilter) });
  if ('present' in filter) return new PresenceFilter({ attribute: filter.present });
  return new EqualityFilter({ attribute: filter.equals, value: filter.binary ? Buffer.from(filter.value, 'base64') : filter.value });
}

function toEntry(entry: Entry, binary: ReadonlySet<string>): LdapEntry {
  const attributes: Record<string, string[]> = {};
  for (const [name, raw] of Object.entries(entry)) {
    if (name === 'dn') continue;
    const key = name.toLowerCase();
    const list = Array.isArray(raw) ? raw : [raw];
    attributes[key] = list.map((v) => (Buffer.isBuffer(v) ? (binary.has(key) ? v.toString('base64') : v.toString('utf8')) : v));
  }
  return { dn: entry.dn, attributes };
}

/** ldapts' result errors carry `code`; anything else (socket, TLS, timeout) is left as it is. */
function asResult(error: unknown, operation: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? new LdapResultError(code, operation) : error;
}

export interface LdaptsSessionOptions {
  /** Awaited before every operation (rate limit, lease fence). */
  throttle?: (signal?: AbortSignal) => Promise<void>;
}

export class LdaptsSession implements LdapSession {
  private client: Client | null = null;
  private connecting: Promise<Client> | null = null;

  constructor(
    private readonly config: LdapConfig,
    private readonly options: LdaptsSessionOptions = {},
  ) {}

  private tlsOptions(): ConnectionOptions {
    const tls: ConnectionOptions = { minVersion: 'TLSv1.2' };
    // A pinned CA replaces the system's list: only that CA's certificates are trusted.
    if (this.config.tls.ca) tls.ca = [this.config.tls.ca];
    if (this.config.tls.servername) tls.servername = this.config.tls.servername;
    return tls;
  }

  private async connect(): Promise<Client> {
    const url = new URL(this.config.url);
    const client = new Client({
      url: this.config.url,
      timeout: this.config.requestTimeoutMs,
      connectTimeout: this.config.requestTimeoutMs,
      ...(url.protocol === 'ldaps:' ? { tlsOptions: this.tlsOptions() } : {}),
      // objectGUID values are bytes; AD's <GUID=...> style DNs are not used, so strict DNs stay on.
      strictDN: true,
    });
    try {
      if (this.config.tls.startTls) await client.startTLS(this.tlsOptions());
      await client.bind(this.config.bindDn, this.config.bindPassword);
    } catch (error) {
      await client.unbind().catch(() => undefined);
      throw asResult(error, 'bind');
    }
    return client;
  }

  /** The bound client, connecting (and binding) on first use or after the connection dropped. */
  private async bound(signal?: AbortSignal): Promise<Client> {
    await this.options.throttle?.(signal);
    signal?.throwIfAborted();
    if (this.client?.isConnected) return this.client;
    this.client = null;
    this.connecting ??= this.connect().finally(() => {
      this.connecting = null;
    });
    this.client = await this.connecting;
    return this.client;
  }

  private async run<T>(operation: string, signal: AbortSignal | undefined, body: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.bound(signal);
    try {
      return await body(client);
    } catch (error) {
      // A connection that failed mid-operation is not reused: the next operation connects again.
      if (!client.isConnected) this.client = null;
      throw asResult(error, operation);
    }
  }

  async search(request: LdapSearch, signal?: AbortSignal): Promise<LdapEntry[]> {
    const binary = new Set((request.binaryAttributes ?? []).map((a) => a.toLowerCase()));
    return this.run('search', signal, async (client) => {
      const { searchEntries } = await client.search(request.base, {
        scope: request.scope,
        filter: toFilter(request.filter),
        attributes: request.attributes,
        explicitBufferAttributes: request.binaryAttributes ?? [],
        paged: request.scope === 'sub' ? { pageSize: 500 } : false,
      });
      return searchEntries.map((e) => toEntry(e, binary));
    });
  }

  async modify(dn: string, changes: LdapChange[], signal?: AbortSignal): Promise<void> {
    await this.run('modify', signal, (client) =>
      client.modify(
        dn,
        changes.map(
          (c) =>
            new Change({
              operation: c.operation,
              modification: new Attribute({
                type: c.attribute,
                values: c.binary ? c.values.map((v) => Buffer.from(v, 'base64')) : c.values,
              }),
            }),
        ),
      ),
    );
  }

  async modifyDn(dn: string, newDn: string, signal?: AbortSignal): Promise<void> {
    await this.run('modifyDN', signal, (client) => client.modifyDN(dn, newDn));
  }

  async delete(dn: string, signal?: AbortSignal): Promise<void> {
    await this.run('delete', signal, (client) => client.del(dn));
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    await client?.unbind().catch(() => undefined);
  }
}
