/**
 * Slack's SCIM API (Business+ and Enterprise Grid), the calls the adapter needs, through
 * the shared bearer request path (providers/http/bearer.ts). Slack member ids are SCIM ids,
 * so the account found through the Web API is addressed here as it is. Deactivation keeps
 * the user: a deactivated user reads back with `active: false` (DELETE deactivates too).
 */
import { PermanentError } from '../contract.ts';
import { BearerClient, staticBearerToken, type BearerApi, type CallContext } from '../http/bearer.ts';
import { noThrottle, type Throttle } from '../http/request.ts';
import { USER_ID } from './client.ts';
import { scimBaseUrl, type SlackConfig } from './config.ts';
import { SLACK_HTTP_FACTS } from './errors.ts';

/** Every call below is idempotent (GET, PATCH to a fixed state, DELETE); a static token is never sent twice anyway. */
const SLACK_SCIM_API: BearerApi = {
  provider: 'Slack SCIM',
  facts: SLACK_HTTP_FACTS,
  accept: 'application/json',
  contentType: 'application/json',
};

/** The deactivating PATCH body per SCIM version: SCIM 1.1 takes the attribute, 2.0 a PatchOp. */
export const DEACTIVATE_BODY = {
  v1: { schemas: ['urn:scim:schemas:core:1.0'], active: false },
  v2: {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'replace', path: 'active', value: false }],
  },
} as const;

export class SlackScimClient {
  private readonly http: BearerClient;
  private readonly version: 'v1' | 'v2';

  constructor(config: SlackConfig, throttle: Throttle = noThrottle) {
    const scim = config.scim;
    if (!scim) throw new PermanentError('Slack: this disable mode needs the `scim` block (Slack SCIM API)');
    this.version = scim.version;
    this.http = new BearerClient(SLACK_SCIM_API, {
      baseUrl: scimBaseUrl(scim),
      tokens: staticBearerToken(scim.token ?? config.token),
      throttle,
      timeoutMs: config.requestTimeoutMs,
    });
  }

  /** `active` of the user; null on 404 (no such user). */
  async active(userId: string, ctx: CallContext): Promise<boolean | null> {
    const answer = await this.http.send({ method: 'GET', path: userPath(userId), operation: 'get User', allowed: [404] }, ctx);
    if (answer.status === 404) return null;
    const active = (answer.body as { active?: unknown } | null)?.active;
    if (typeof active !== 'boolean') throw new PermanentError('Slack SCIM get User: an answer without `active`');
    return active;
  }

  /** PATCH `active: false`; `gone` on 404. */
  async deactivate(userId: string, ctx: CallContext): Promise<'deactivated' | 'gone'> {
    const body = DEACTIVATE_BODY[this.version];
    const answer = await this.http.send({ method: 'PATCH', path: userPath(userId), body, operation: 'patch User', allowed: [404] }, ctx);
    return answer.status === 404 ? 'gone' : 'deactivated';
  }

  /** DELETE, which Slack turns into a deactivation; `gone` on 404. */
  async delete(userId: string, ctx: CallContext): Promise<'deleted' | 'gone'> {
    const answer = await this.http.send({ method: 'DELETE', path: userPath(userId), operation: 'delete User', allowed: [404] }, ctx);
    return answer.status === 404 ? 'gone' : 'deleted';
  }

  /** One authenticated read: proves the SCIM token and its `admin` scope. */
  async probe(ctx: CallContext): Promise<void> {
    await this.http.send({ method: 'GET', path: '/Users?count=1', operation: 'list Users (probe)', allowed: [] }, ctx);
  }
}

function userPath(userId: string): string {
  if (!USER_ID.test(userId)) throw new PermanentError('Slack SCIM: a user id that is not a Slack member id (U… or W…)');
  return `/Users/${encodeURIComponent(userId)}`;
}
