/**
 * `LdapSession` to the built-in sandbox: the emulated directory (`sandbox.ts`) takes each
 * LDAP operation as one JSON POST on loopback and answers its LDAP result code, so the
 * sandbox kit's request log, fault injection and lost answers apply to directory
 * operations as they do to the HTTP providers. The service account's DN and password go
 * with every request (HTTP has no bound connection); the config allows http:// only on a
 * loopback host.
 */
import type { LdapConfig } from './config.ts';
import { LDAP_SANDBOX_PATH } from './sandbox-credentials.ts';
import { LdapResultError, type LdapChange, type LdapEntry, type LdapSearch, type LdapSession } from './session.ts';

/** What the emulator answers to every operation. */
export interface SandboxAnswer {
  resultCode: number;
  entries?: LdapEntry[];
}

export class SandboxSession implements LdapSession {
  private readonly base: string;
  private readonly authorization: string;

  constructor(
    private readonly config: LdapConfig,
    private readonly options: { throttle?: ((signal?: AbortSignal) => Promise<void>) | undefined } = {},
  ) {
    this.base = `${config.url.replace(/\/+$/, '')}${LDAP_SANDBOX_PATH}`;
    this.authorization = `Basic ${Buffer.from(`${config.bindDn}:${config.bindPassword}`).toString('base64')}`;
  }

  private async call(operation: string, body: object, signal?: AbortSignal): Promise<SandboxAnswer> {
    await this.options.throttle?.(signal);
    const timeout = AbortSignal.timeout(this.config.requestTimeoutMs);
    const res = await fetch(`${this.base}/${operation}`, {
      method: 'POST',
      headers: { authorization: this.authorization, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    // A body of `null` parses too: the guard below needs the optional chain.
    const answer = (await res.json()) as SandboxAnswer | null;
    if (typeof answer?.resultCode !== 'number') throw new LdapResultError(80, operation);
    if (answer.resultCode !== 0) throw new LdapResultError(answer.resultCode, operation);
    return answer;
  }

  async search(request: LdapSearch, signal?: AbortSignal): Promise<LdapEntry[]> {
    return (await this.call('search', request, signal)).entries ?? [];
  }

  async modify(dn: string, changes: LdapChange[], signal?: AbortSignal): Promise<void> {
    await this.call('modify', { dn, changes }, signal);
  }

  async modifyDn(dn: string, newDn: string, signal?: AbortSignal): Promise<void> {
    await this.call('modifydn', { dn, newDn }, signal);
  }

  async delete(dn: string, signal?: AbortSignal): Promise<void> {
    await this.call('delete', { dn }, signal);
  }

  async close(): Promise<void> {
    // Nothing to release: every call is its own HTTP request.
  }
}
