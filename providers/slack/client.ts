/**
 * The Web API calls the adapter needs, through the official SDK (`@slack/web-api`) built the
 * way the engine needs it: the SDK's own retries off (`retries: 0`, `rejectRateLimitedCalls`),
 * and every request through our fetch (providers/http/request.ts: the throttle and lease
 * fence, the attempt's AbortSignal plus a per-request timeout), which also turns a non-200
 * answer into a typed error before the SDK sees it. The `ok:false` envelopes become typed
 * errors in errors.ts; the `user_not_found` family comes back as null.
 *
 * A WebClient is built per call: its methods take no AbortSignal, and a client per call lets
 * its fetch carry the calling attempt's signal without async-context plumbing (the SDK's
 * internal queue would run a queued request in another caller's context).
 */
import type { Logger } from 'pino';
import { LogLevel, WebClient, type FetchFunction, type Logger as SdkLogger, type WebAPICallResult } from '@slack/web-api';
import { PermanentError } from '../contract.ts';
import { readJsonBody, type CallContext } from '../http/bearer.ts';
import { errorForStatus, refusalMessage } from '../http/errors.ts';
import { fetchOnce, noThrottle, type Throttle } from '../http/request.ts';
import type { SlackConfig } from './config.ts';
import { ABSENT_CODES, platformErrorCode, SLACK_HTTP_FACTS, toSlackError } from './errors.ts';

export type { CallContext } from '../http/bearer.ts';

/** A Slack member id (`U…`, or `W…` for an Enterprise Grid org user); anything else is refused before it is sent. */
export const USER_ID = /^[UW][A-Z0-9]{2,30}$/;
/** A workspace id (`T…`), or an Enterprise Grid org id (`E…`). */
export const TEAM_ID = /^[TE][A-Z0-9]{2,30}$/;

/** The part of a Slack user the adapter reads. */
export interface SlackUser {
  id: string;
  teamId: string | null;
  email: string | null;
  /** Deactivated: the account can no longer sign in. */
  deleted: boolean;
  isBot: boolean;
  /** The workspaces of an Enterprise Grid user (`enterprise_user.teams`); null outside Grid. */
  teams: string[] | null;
}

export interface AuthIdentity {
  userId: string | null;
  /** The token's scopes from `x-oauth-scopes`; null when Slack did not send the header. */
  scopes: string[] | null;
}

export class SlackWebApi {
  private readonly sdkLogger: SdkLogger;

  /** `throttle`: the provider's request rate limit and the lease fence (see ProviderFactoryContext.throttle). */
  constructor(
    private readonly config: SlackConfig,
    logger: Logger,
    private readonly throttle: Throttle = noThrottle,
  ) {
    this.sdkLogger = sdkLogger(logger);
  }

  async authTest(ctx: CallContext): Promise<AuthIdentity> {
    const result = await this.call('auth.test', ctx, (c) => c.auth.test());
    const user = (result as { user_id?: unknown }).user_id;
    return { userId: typeof user === 'string' ? user : null, scopes: result.response_metadata?.scopes ?? null };
  }

  /** Null when no account holds this email (`users_not_found`). */
  async lookupByEmail(email: string, ctx: CallContext): Promise<SlackUser | null> {
    const result = await this.callOrAbsent('users.lookupByEmail', ctx, (c) => c.users.lookupByEmail({ email }));
    return result && toSlackUser((result as { user?: unknown }).user, 'users.lookupByEmail');
  }

  /** Null when the id names no account (`user_not_found`). */
  async userInfo(userId: string, ctx: CallContext): Promise<SlackUser | null> {
    const result = await this.callOrAbsent('users.info', ctx, (c) => c.users.info({ user: checkedUserId(userId) }));
    return result && toSlackUser((result as { user?: unknown }).user, 'users.info');
  }

  /** `admin.users.session.reset`: every session on every device; `absent` when the user is gone. */
  async resetSessions(userId: string, ctx: CallContext): Promise<'reset' | 'absent'> {
    const result = await this.callOrAbsent('admin.users.session.reset', ctx, (c) =>
      c.admin.users.session.reset({ user_id: checkedUserId(userId) }),
    );
    return result ? 'reset' : 'absent';
  }

  /**
   * The ids of the user's active sessions in one workspace (`admin.users.session.list` takes
   * `user_id` and `team_id` together). One page of up to 100 is enough to tell "none" from "some".
   */
  async activeSessions(userId: string, teamId: string, ctx: CallContext): Promise<{ sessionIds: string[]; more: boolean }> {
    const result = await this.callOrAbsent('admin.users.session.list', ctx, (c) =>
      c.admin.users.session.list({ user_id: checkedUserId(userId), team_id: checkedTeamId(teamId), limit: 100 }),
    );
    if (!result) return { sessionIds: [], more: false };
    const sessions = (result as { active_sessions?: unknown }).active_sessions;
    const ids = (Array.isArray(sessions) ? sessions : []).map((s) => sessionId((s as { session_id?: unknown } | null)?.session_id));
    const cursor = result.response_metadata?.next_cursor;
    return { sessionIds: ids, more: typeof cursor === 'string' && cursor !== '' };
  }

  /** `admin.users.remove` from one workspace; `absent` when Slack no longer finds the user there. */
  async removeFromWorkspace(teamId: string, userId: string, ctx: CallContext): Promise<'removed' | 'absent'> {
    const result = await this.callOrAbsent('admin.users.remove', ctx, (c) =>
      c.admin.users.remove({ team_id: checkedTeamId(teamId), user_id: checkedUserId(userId) }),
    );
    return result ? 'removed' : 'absent';
  }

  /** Like `call`, but the `user_not_found` family answers null: the account is absent. */
  private callOrAbsent(method: string, ctx: CallContext, fn: (client: WebClient) => Promise<WebAPICallResult>) {
    return this.call(method, ctx, fn, true);
  }

  private async call(method: string, ctx: CallContext, fn: (client: WebClient) => Promise<WebAPICallResult>): Promise<WebAPICallResult>;
  private async call(
    method: string,
    ctx: CallContext,
    fn: (client: WebClient) => Promise<WebAPICallResult>,
    absentIsNull: true,
  ): Promise<WebAPICallResult | null>;
  private async call(
    method: string,
    ctx: CallContext,
    fn: (client: WebClient) => Promise<WebAPICallResult>,
    absentIsNull = false,
  ): Promise<WebAPICallResult | null> {
    const client = new WebClient(this.config.token, {
      slackApiUrl: `${this.config.apiUrl}/`,
      fetch: this.fetchFor(method, ctx),
      // The engine owns retries: none here, and a 429 rejects at once instead of sleeping.
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      // Our fetch bounds each request (requestTimeoutMs) and carries the attempt's signal.
      timeout: 0,
      logger: this.sdkLogger,
    });
    try {
      return await fn(client);
    } catch (error) {
      const code = platformErrorCode(error);
      if (absentIsNull && code !== null && ABSENT_CODES.includes(code)) return null;
      throw toSlackError(error, method);
    }
  }

  /** The SDK's fetch: one request through the shared path; anything but 200 becomes a typed error here. */
  private fetchFor(method: string, ctx: CallContext): FetchFunction {
    const summary = `Slack ${method}`;
    return async (url, init) => {
      if (init?.body !== undefined && typeof init.body !== 'string') {
        throw new PermanentError(`${summary}: a multipart body, which no call of this adapter sends`);
      }
      const response = await fetchOnce(String(url), {
        method: init?.method ?? 'POST',
        headers: init?.headers ?? {},
        body: init?.body,
        signal: ctx.signal,
        timeoutMs: this.config.requestTimeoutMs,
        throttle: this.throttle,
        summary,
      });
      if (response.status === 200) return response;
      const answer = { status: response.status, headers: response.headers, body: await readJsonBody(response) };
      throw errorForStatus(answer, refusalMessage(summary, answer, SLACK_HTTP_FACTS), SLACK_HTTP_FACTS, ctx.now().getTime());
    };
  }
}

/** Session ids are numbers at Slack; anything else is shown as `?` rather than echoed. */
function sessionId(value: unknown): string {
  return typeof value === 'number' || (typeof value === 'string' && /^\w{1,40}$/.test(value)) ? String(value) : '?';
}

function checkedUserId(userId: string): string {
  if (!USER_ID.test(userId)) throw new PermanentError('Slack: a user id that is not a Slack member id (U… or W…)');
  return userId;
}

function checkedTeamId(teamId: string): string {
  if (!TEAM_ID.test(teamId)) throw new PermanentError('Slack: a workspace id that is not a Slack team id (T… or E…)');
  return teamId;
}

function toSlackUser(value: unknown, method: string): SlackUser {
  const u = (value ?? {}) as {
    id?: unknown;
    team_id?: unknown;
    deleted?: unknown;
    is_bot?: unknown;
    profile?: { email?: unknown };
    enterprise_user?: { teams?: unknown };
  };
  if (typeof u.id !== 'string' || !USER_ID.test(u.id)) throw new PermanentError(`Slack ${method}: a user without a valid id`);
  const teams = u.enterprise_user && Array.isArray(u.enterprise_user.teams) ? u.enterprise_user.teams : null;
  return {
    id: u.id,
    teamId: typeof u.team_id === 'string' && TEAM_ID.test(u.team_id) ? u.team_id : null,
    email: typeof u.profile?.email === 'string' ? u.profile.email : null,
    deleted: u.deleted === true,
    isBot: u.is_bot === true,
    teams: teams === null ? null : teams.filter((t): t is string => typeof t === 'string' && TEAM_ID.test(t)),
  };
}

/**
 * The SDK's logger: its debug and info lines (request bodies, redacted) are dropped; its
 * warnings (deprecations, Slack's `response_metadata.warnings`) go to our log, cut short.
 */
function sdkLogger(logger: Logger): SdkLogger {
  let level = LogLevel.WARN;
  const warn = (...msg: unknown[]) => logger.warn({ sdk: '@slack/web-api' }, msg.map(String).join(' ').slice(0, 300));
  return {
    debug: () => undefined,
    info: () => undefined,
    warn,
    error: warn,
    setLevel: (next) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
