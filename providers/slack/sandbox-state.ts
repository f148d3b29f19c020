/**
 * The state of the Slack emulator: an Enterprise Grid organization's users (their
 * workspaces and active sessions) and the tokens it accepts (type and scopes), with the
 * JSON shapes the Web API and the SCIM API answer with.
 */
import { z } from 'zod';
import { SLACK_SANDBOX_BOT_TOKEN, SLACK_SANDBOX_SCIM_TOKEN, SLACK_SANDBOX_TOKEN } from './sandbox-credentials.ts';

export const SANDBOX_ENTERPRISE_ID = 'E0SANDBOX';
/** The workspace an auto-provisioned user belongs to, unless the sandbox is started with others. */
export const SANDBOX_DEFAULT_WORKSPACES = ['T0SANDBOX1'];

export interface SandboxToken {
  type: 'user' | 'bot';
  scopes: string[];
}

export interface SandboxSession {
  sessionId: number;
  teamId: string;
  created: number;
}

export interface SandboxUser {
  id: string;
  email: string;
  name: string;
  /** Deactivated (Web API `deleted: true`, SCIM `active: false`). */
  deleted: boolean;
  isBot: boolean;
  /** The workspaces of the org the user belongs to (`enterprise_user.teams`). */
  teams: string[];
  sessions: SandboxSession[];
  updated: number;
}

const teamIdSchema = z.string().regex(/^T[A-Z0-9]{2,30}$/);

/** Body of `POST /__sandbox/users`. */
export const slackSeedUserSchema = z.object({
  email: z.string().min(3),
  teams: z.array(teamIdSchema).optional(),
  /** Active sessions per workspace. Default 1. */
  sessionsPerTeam: z.number().int().min(0).max(20).default(1),
  deleted: z.boolean().default(false),
  isBot: z.boolean().default(false),
});
export type SlackSeedUser = z.input<typeof slackSeedUserSchema>;

/** Body of `POST /__sandbox/users/{id}/reactivate`: the workspaces to put the user back in (default: those they are in, else the sandbox's). */
export const slackReactivateSchema = z.object({ teams: z.array(teamIdSchema).min(1).max(20).optional() }).strict();

/** Body of `POST /__sandbox/users/{id}/sessions`: the workspace signed in to (default: the user's first). */
export const slackSignInSchema = z.object({ teamId: teamIdSchema.optional() }).strict();

/** Body of `POST /__sandbox/tokens`: another token the sandbox accepts (a narrower one, a bot token). */
export const slackSeedTokenSchema = z.object({
  token: z.string().min(1),
  type: z.enum(['user', 'bot']),
  scopes: z.array(z.string().min(1)),
});

const nowSeconds = () => Math.floor(Date.now() / 1000);

export class SlackState {
  readonly users = new Map<string, SandboxUser>();
  readonly tokens = new Map<string, SandboxToken>([
    [SLACK_SANDBOX_TOKEN, { type: 'user', scopes: ['users:read', 'users:read.email', 'admin.users:read', 'admin.users:write'] }],
    [SLACK_SANDBOX_SCIM_TOKEN, { type: 'user', scopes: ['admin'] }],
    [SLACK_SANDBOX_BOT_TOKEN, { type: 'bot', scopes: ['users:read', 'users:read.email'] }],
  ]);
  private nextUser = 1;
  private nextSession = 7_000_001;

  constructor(readonly defaultWorkspaces: string[] = SANDBOX_DEFAULT_WORKSPACES) {}

  create(input: z.output<typeof slackSeedUserSchema>): SandboxUser {
    const id = `W0SB${String(this.nextUser++).padStart(6, '0')}`;
    const teams = input.teams ?? [...this.defaultWorkspaces];
    const user: SandboxUser = {
      id,
      email: input.email,
      name: input.email.split('@')[0] ?? id,
      deleted: input.deleted,
      isBot: input.isBot,
      teams,
      sessions: input.deleted ? [] : teams.flatMap((teamId) => Array.from({ length: input.sessionsPerTeam }, () => this.session(teamId))),
      updated: nowSeconds(),
    };
    this.users.set(id, user);
    return user;
  }

  private session(teamId: string): SandboxSession {
    return { sessionId: this.nextSession++, teamId, created: nowSeconds() };
  }

  byEmail(email: string): SandboxUser | undefined {
    const wanted = email.toLowerCase();
    return [...this.users.values()].find((u) => u.email.toLowerCase() === wanted);
  }

  /**
   * Drift (issue 30): an administrator reactivates the account and puts it back in
   * workspaces, undoing a SCIM deactivation or removals by admin.users.remove.
   */
  reactivate(user: SandboxUser, teams: string[] | undefined): void {
    user.deleted = false;
    user.teams = [...new Set([...user.teams, ...(teams ?? (user.teams.length > 0 ? [] : this.defaultWorkspaces))])];
    user.updated = nowSeconds();
  }

  /** Drift: the user signs in again in one workspace; null when Slack would not let them (deactivated, or not in it). */
  signIn(user: SandboxUser, teamId: string | undefined): SandboxSession | null {
    const team = teamId ?? user.teams[0];
    if (user.deleted || team === undefined || !user.teams.includes(team)) return null;
    const session = this.session(team);
    user.sessions.push(session);
    return session;
  }

  /** What a deactivation does at Slack: the account is marked deleted and signed out everywhere. */
  deactivate(user: SandboxUser): void {
    user.deleted = true;
    user.sessions = [];
    user.updated = nowSeconds();
  }
}

/** `users.info` / `users.lookupByEmail` user object, Enterprise Grid flavour. */
export function webUserJson(user: SandboxUser) {
  return {
    id: user.id,
    team_id: user.teams[0] ?? SANDBOX_ENTERPRISE_ID,
    name: user.name,
    deleted: user.deleted,
    real_name: user.name,
    tz: 'Europe/London',
    profile: { email: user.email, real_name: user.name, display_name: user.name, team: user.teams[0] ?? SANDBOX_ENTERPRISE_ID },
    is_admin: false,
    is_owner: false,
    is_primary_owner: false,
    is_bot: user.isBot,
    is_app_user: false,
    updated: user.updated,
    enterprise_user: {
      id: user.id,
      enterprise_id: SANDBOX_ENTERPRISE_ID,
      enterprise_name: 'Sandbox Org',
      is_admin: false,
      is_owner: false,
      is_primary_owner: false,
      teams: [...user.teams],
    },
  };
}

/** `admin.users.session.list` entry. */
export function sessionJson(user: SandboxUser, session: SandboxSession) {
  const device = { device_hardware: 'Desktop', os: 'Mac OS', os_version: '14.5', slack_client_version: '4.41.0', ip: '198.51.100.7' };
  return { user_id: user.id, team_id: session.teamId, session_id: session.sessionId, created: device };
}

export type ScimVersion = 'v1' | 'v2';

/** A SCIM User as Slack shows it, in the schema of the API version asked. */
export function scimUserJson(user: SandboxUser, version: ScimVersion, location: string) {
  return {
    schemas: [version === 'v1' ? 'urn:scim:schemas:core:1.0' : 'urn:ietf:params:scim:schemas:core:2.0:User'],
    id: user.id,
    externalId: '',
    userName: user.name,
    nickName: user.name,
    name: { givenName: user.name, familyName: '' },
    displayName: user.name,
    emails: [{ value: user.email, primary: true }],
    active: !user.deleted,
    meta: { created: new Date(user.updated * 1000).toISOString(), location },
  };
}

/** A SCIM error body: 1.1's `Errors` object, or 2.0's RFC 7644 error. */
export function scimErrorJson(version: ScimVersion, status: number, description: string) {
  if (version === 'v1') return { Errors: { description, code: status } };
  return { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], detail: description, status: String(status) };
}
