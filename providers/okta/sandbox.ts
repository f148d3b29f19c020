/**
 * Okta emulator: exactly the Management API endpoints the adapter uses, with Okta's
 * paths, status codes, error bodies and rate-limit headers, so the real SDK runs
 * against it unchanged. State lives in memory; `/__sandbox/users` seeds users in any state.
 */
import { randomBytes } from 'node:crypto';
import type { Request, Response, Router } from 'express';
import type express from 'express';
import { z } from 'zod';
import {
  createSandboxApp,
  listenSandbox,
  type RunningSandbox,
  type SandboxControl,
  type SandboxOptions,
  type SandboxStyle,
  requestOrigin,
} from '../sandbox/kit.ts';
import { OKTA_SANDBOX_TOKEN } from './sandbox-credentials.ts';

export { OKTA_SANDBOX_TOKEN };

type GroupType = 'OKTA_GROUP' | 'APP_GROUP' | 'BUILT_IN';

interface SandboxGroup {
  id: string;
  type: GroupType;
  name: string;
  created: string;
}

interface SandboxUser {
  id: string;
  status: UserStatus;
  transitioningToStatus: UserStatus | null;
  /** Epoch ms at which a pending transition completes. */
  transitionDoneAt: number | null;
  created: string;
  activated: string | null;
  statusChanged: string | null;
  lastUpdated: string;
  profile: { login: string; email: string; firstName: string; lastName: string };
  groupIds: Set<string>;
  /** Consent grants, each for one OAuth client. */
  grants: Array<{ id: string; clientId: string; scopeId: string; created: string }>;
  /** OAuth clients holding refresh/access tokens for the user. */
  tokenClients: Set<string>;
  /** Enrolled MFA factors. */
  factors: SandboxFactor[];
  /** Admin role assignments. */
  roles: SandboxRole[];
  /** When the password was last set; the password itself is never kept. */
  passwordChanged: string | null;
}

interface SandboxFactor {
  id: string;
  factorType: FactorType;
  created: string;
}

interface SandboxRole {
  /** The assignment's id, which `DELETE /users/{id}/roles/{roleAssignmentId}` takes. */
  id: string;
  type: string;
  assignmentType: 'USER' | 'GROUP';
  created: string;
}

const factorTypes = ['push', 'token:software:totp', 'sms', 'call', 'email', 'webauthn', 'question'] as const;
type FactorType = (typeof factorTypes)[number];

/** The provider Okta reports for each factor type. */
const factorProvider: Record<FactorType, string> = {
  push: 'OKTA',
  'token:software:totp': 'GOOGLE',
  sms: 'OKTA',
  call: 'OKTA',
  email: 'OKTA',
  webauthn: 'FIDO',
  question: 'OKTA',
};

/** Labels of Okta's standard admin roles, as the roles API shows them. */
const roleLabels: Record<string, string> = {
  SUPER_ADMIN: 'Super Administrator',
  ORG_ADMIN: 'Organizational Administrator',
  APP_ADMIN: 'Application Administrator',
  USER_ADMIN: 'Group Administrator',
  HELP_DESK_ADMIN: 'Help Desk Administrator',
  READ_ONLY_ADMIN: 'Read-only Administrator',
  GROUP_MEMBERSHIP_ADMIN: 'Group Membership Administrator',
  REPORT_ADMIN: 'Report Administrator',
};

const userStatuses = [
  'STAGED',
  'PROVISIONED',
  'ACTIVE',
  'RECOVERY',
  'LOCKED_OUT',
  'PASSWORD_EXPIRED',
  'SUSPENDED',
  'DEPROVISIONED',
] as const;
type UserStatus = (typeof userStatuses)[number];

/** Body of `POST /__sandbox/users`. */
export const oktaSeedUserSchema = z.object({
  login: z.string().min(1),
  email: z.string().optional(),
  status: z.enum(userStatuses).default('ACTIVE'),
  transitioningToStatus: z.enum(userStatuses).nullable().default(null),
  /** With `transitioningToStatus`: when the transition completes. Default 0 (on the next read). */
  transitionMs: z.number().int().min(0).default(0),
  groups: z.array(z.object({ name: z.string().min(1), type: z.enum(['OKTA_GROUP', 'APP_GROUP']) })).default([]),
  /** Client ids with a consent grant. */
  grants: z.array(z.string().min(1)).default([]),
  /** Client ids holding OAuth tokens. */
  tokens: z.array(z.string().min(1)).default([]),
  /** Enrolled MFA factor types. */
  factors: z.array(z.enum(factorTypes)).default([]),
  /** Admin role assignments by role type; GROUP ones are held through a group. */
  roles: z
    .array(
      z.object({
        type: z.enum(Object.keys(roleLabels) as [string, ...string[]]),
        assignmentType: z.enum(['USER', 'GROUP']).default('USER'),
      }),
    )
    .default([]),
  /** When the password was last set (ISO 8601); null: never. */
  passwordChanged: z.iso.datetime().nullable().default(null),
});
export type OktaSeedUser = z.input<typeof oktaSeedUserSchema>;

const iso = (ms = Date.now()) => new Date(ms).toISOString();
const oktaId = (prefix: string) => prefix + randomBytes(12).toString('base64url').replace(/[-_]/g, 'x').slice(0, 17);

function sendError(res: Response, status: number, errorCode: string, errorSummary: string, causes: string[] = []): void {
  res.status(status).json({
    errorCode,
    errorSummary,
    errorLink: errorCode,
    errorId: oktaId('oae'),
    errorCauses: causes.map((cause) => ({ errorSummary: cause })),
  });
}

const notFound = (res: Response, what: string) => sendError(res, 404, 'E0000007', `Not found: Resource not found: ${what} (User)`);

class OktaState {
  readonly users = new Map<string, SandboxUser>();
  /** Lower-cased login to id: benchmarks look thousands of users up by login. */
  private readonly logins = new Map<string, string>();
  readonly groups = new Map<string, SandboxGroup>();
  readonly everyone: SandboxGroup;
  /** Deactivation takes this long (Okta deprovisions apps asynchronously). Default 0. */
  deactivationMs = 0;

  constructor() {
    this.everyone = this.group('Everyone', 'BUILT_IN');
  }

  group(name: string, type: GroupType): SandboxGroup {
    for (const g of this.groups.values()) if (g.name === name && g.type === type) return g;
    const created: SandboxGroup = { id: oktaId('00g'), type, name, created: iso() };
    this.groups.set(created.id, created);
    return created;
  }

  create(input: z.output<typeof oktaSeedUserSchema>): SandboxUser {
    const now = iso();
    const [local = input.login] = input.login.split('@');
    const user: SandboxUser = {
      id: oktaId('00u'),
      status: input.status,
      transitioningToStatus: input.transitioningToStatus,
      transitionDoneAt: input.transitioningToStatus ? Date.now() + input.transitionMs : null,
      created: now,
      activated: input.status === 'STAGED' || input.status === 'PROVISIONED' ? null : now,
      statusChanged: now,
      lastUpdated: now,
      profile: { login: input.login, email: input.email ?? input.login, firstName: local, lastName: 'Sandbox' },
      groupIds: new Set([this.everyone.id, ...input.groups.map((g) => this.group(g.name, g.type).id)]),
      grants: input.grants.map((clientId) => ({ id: oktaId('oag'), clientId, scopeId: 'okta.users.read.self', created: now })),
      tokenClients: new Set(input.tokens),
      factors: input.factors.map((factorType) => ({ id: oktaId(factorType === 'push' ? 'opf' : 'ost'), factorType, created: now })),
      roles: input.roles.map((r) => ({ id: oktaId('ra1'), type: r.type, assignmentType: r.assignmentType, created: now })),
      passwordChanged: input.passwordChanged,
    };
    this.users.set(user.id, user);
    this.logins.set(input.login.toLowerCase(), user.id);
    return user;
  }

  /** A user that has everything an offboarding removes: what autoProvision creates. */
  provision(login: string): SandboxUser {
    return this.create(
      oktaSeedUserSchema.parse({
        login,
        groups: [
          { name: 'Engineering', type: 'OKTA_GROUP' },
          { name: 'Salesforce Users', type: 'APP_GROUP' },
        ],
        grants: ['0oasandboxportal'],
        tokens: ['0oasandboxportal', '0oasandboxmobile'],
        // The phone the leaver keeps, twice (Okta Verify push and an authenticator app),
        // an admin role an unsuspend would hand back, and a password set long ago.
        factors: ['push', 'token:software:totp'],
        roles: [{ type: 'HELP_DESK_ADMIN' }],
        passwordChanged: iso(Date.now() - 30 * 86_400_000),
      }),
    );
  }

  /** By id, login (case-insensitive) or unambiguous login shortname, as Okta looks users up. */
  find(key: string): SandboxUser | undefined {
    const byId = this.users.get(key);
    if (byId) return this.settle(byId);
    const wanted = key.toLowerCase();
    const byLogin = this.users.get(this.logins.get(wanted) ?? '');
    if (byLogin || wanted.includes('@')) return byLogin && this.settle(byLogin);
    const byShortname = [...this.users.values()].filter((u) => u.profile.login.toLowerCase().split('@')[0] === wanted);
    return byShortname.length === 1 ? this.settle(byShortname[0]!) : undefined;
  }

  remove(user: SandboxUser): void {
    this.users.delete(user.id);
    this.logins.delete(user.profile.login.toLowerCase());
  }

  private settle(user: SandboxUser): SandboxUser {
    if (user.transitioningToStatus && user.transitionDoneAt !== null && Date.now() >= user.transitionDoneAt) {
      this.setStatus(user, user.transitioningToStatus);
    }
    return user;
  }

  setStatus(user: SandboxUser, status: UserStatus): void {
    user.status = status;
    user.transitioningToStatus = null;
    user.transitionDoneAt = null;
    user.statusChanged = user.lastUpdated = iso();
  }

  deactivate(user: SandboxUser): void {
    if (this.deactivationMs > 0) {
      user.transitioningToStatus = 'DEPROVISIONED';
      user.transitionDoneAt = Date.now() + this.deactivationMs;
      user.lastUpdated = iso();
    } else {
      this.setStatus(user, 'DEPROVISIONED');
    }
  }
}

function userJson(user: SandboxUser, base: string) {
  const self = `${base}/api/v1/users/${user.id}`;
  return {
    id: user.id,
    status: user.status,
    created: user.created,
    activated: user.activated,
    statusChanged: user.statusChanged,
    lastLogin: null,
    lastUpdated: user.lastUpdated,
    passwordChanged: user.passwordChanged,
    type: { id: 'oty00sandboxdefault' },
    profile: { ...user.profile, mobilePhone: null, secondEmail: null },
    credentials: { provider: { type: 'OKTA', name: 'OKTA' } },
    transitioningToStatus: user.transitioningToStatus,
    _links: { self: { href: self } },
  };
}

function groupJson(group: SandboxGroup, base: string) {
  return {
    id: group.id,
    created: group.created,
    lastUpdated: group.created,
    lastMembershipUpdated: group.created,
    objectClass: [group.type === 'APP_GROUP' ? 'okta:windows_security_principal' : 'okta:user_group'],
    type: group.type,
    profile: { name: group.name, description: null },
    _links: { self: { href: `${base}/api/v1/groups/${group.id}` } },
  };
}

const oktaStyle: SandboxStyle = {
  rateLimited(res, retryAfterMs) {
    // Okta's reset is in whole epoch seconds: round up so a client waiting for it is never early.
    const reset = Math.ceil((Date.now() + retryAfterMs) / 1000);
    res.set({ 'X-Rate-Limit-Limit': '600', 'X-Rate-Limit-Remaining': '0', 'X-Rate-Limit-Reset': String(reset) });
    sendError(res, 429, 'E0000047', 'API call exceeded rate limit due to too many requests.');
  },
  serverError(res) {
    sendError(res, 500, 'E0000009', 'Internal Server Error');
  },
  unauthorized(res) {
    sendError(res, 401, 'E0000011', 'Invalid token provided');
  },
  authorized(req) {
    return req.get('authorization') === `SSWS ${OKTA_SANDBOX_TOKEN}`;
  },
};

function routes(state: OktaState) {
  return (app: express.Express, control: SandboxControl) => {
    /** Finds the user named by `:userId`, or answers 404 and returns undefined. */
    const userOr404 = (req: Request, res: Response): SandboxUser | undefined => {
      const key = String(req.params.userId);
      const user = state.find(key);
      if (!user) notFound(res, key);
      return user;
    };

    app.get('/api/v1/users', (req, res) => {
      const search = typeof req.query.search === 'string' ? req.query.search : undefined;
      let users = [...state.users.values()];
      if (search === undefined) {
        // Without a search Okta lists every user but DEPROVISIONED ones; a search finds those too.
        users = users.filter((u) => u.status !== 'DEPROVISIONED');
      } else {
        const match = searchMatcher(search);
        if (!match) return sendError(res, 400, 'E0000031', `Invalid search criteria.`, [`search: ${search}`]);
        users = users.filter((u) => match(u.profile));
      }
      sendPage(req, res, users, (u) => userJson(u, requestOrigin(req)));
    });

    app.get('/api/v1/groups', (req, res) => {
      const search = typeof req.query.search === 'string' ? req.query.search : undefined;
      const match = search === undefined ? () => true : searchMatcher(search);
      if (!match) return sendError(res, 400, 'E0000031', `Invalid search criteria.`, [`search: ${search ?? ''}`]);
      const groups = [...state.groups.values()].filter((g) => match({ name: g.name }));
      sendPage(req, res, groups, (g) => groupJson(g, requestOrigin(req)));
    });

    app.get('/api/v1/groups/:groupId/users', (req, res) => {
      const group = state.groups.get(req.params.groupId);
      if (!group) return sendError(res, 404, 'E0000007', `Not found: Resource not found: ${req.params.groupId} (UserGroup)`);
      const members = [...state.users.values()].filter((u) => u.groupIds.has(group.id));
      sendPage(req, res, members, (u) => userJson(u, requestOrigin(req)));
    });

    app.get('/api/v1/users/:userId', (req, res) => {
      const key = req.params.userId;
      let user = state.find(key);
      // Only lookups by login create users: a lookup by id of a deleted user must stay 404.
      if (!user && control.autoProvision && key.includes('@')) user = state.provision(key);
      if (!user) return notFound(res, key);
      res.json(userJson(user, requestOrigin(req)));
    });

    app.post('/api/v1/users/:userId/lifecycle/suspend', (req, res) => {
      const user = userOr404(req, res);
      if (!user) return;
      if (control.lie()) return res.json({});
      if (user.status !== 'ACTIVE') {
        return sendError(res, 400, 'E0000001', 'Api validation failed: suspend', ['Cannot suspend a user that is not active']);
      }
      state.setStatus(user, 'SUSPENDED');
      control.countWrite('suspend', user.id);
      res.json({});
    });

    app.post('/api/v1/users/:userId/lifecycle/deactivate', (req, res) => {
      const user = userOr404(req, res);
      if (!user) return;
      if (control.lie()) return res.json({});
      if (user.status === 'DEPROVISIONED') {
        return sendError(res, 400, 'E0000001', 'Api validation failed: deactivate', ['The user is already deactivated']);
      }
      state.deactivate(user);
      control.countWrite('deactivate', user.id);
      res.json({});
    });

    app.delete('/api/v1/users/:userId', (req, res) => {
      const user = userOr404(req, res);
      if (!user) return;
      if (control.lie()) return res.status(204).end();
      // As at Okta: DELETE on a user that is not DEPROVISIONED only deactivates it.
      if (user.status === 'DEPROVISIONED' && !user.transitioningToStatus) {
        state.remove(user);
        control.countWrite('delete', user.id);
      } else if (!user.transitioningToStatus) {
        state.deactivate(user);
        control.countWrite('deactivate', user.id);
      }
      res.status(204).end();
    });

    app.delete('/api/v1/users/:userId/sessions', (req, res) => {
      const user = userOr404(req, res);
      if (!user) return;
      if (control.lie()) return res.status(204).end();
      if (req.query.oauthTokens === 'true') user.tokenClients.clear();
      control.countWrite('revoke_sessions', user.id);
      res.status(204).end();
    });

    app.delete('/api/v1/users/:userId/grants', (req, res) => {
      const user = userOr404(req, res);
      if (!user) return;
      if (control.lie()) return res.status(204).end();
      user.grants = [];
      control.countWrite('revoke_grants', user.id);
      res.status(204).end();
    });

    app.get('/api/v1/users/:userId/grants', (req, res) => {
      const user = userOr404(req, res);
      if (!user) return;
      const base = requestOrigin(req);
      res.json(
        user.grants.map((g) => ({
          id: g.id,
          status: 'ACTIVE',
          created: g.created,
          lastUpdated: g.created,
          issuer: base,
          clientId: g.clientId,
          userId: user.id,
          scopeId: g.scopeId,
          source: 'END_USER',
          _links: { self: { href: `${base}/api/v1/users/${user.id}/grants/${g.id}` } },
        })),
      );
    });

    app.get('/api/v1/users/:userId/clients', (req, res) => {
      const user = userOr404(req, res);
      if (!user) return;
      const base = requestOrigin(req);
      const clients = new Set([...user.grants.map((g) => g.clientId), ...user.tokenClients]);
      res.json(
        [...clients].map((clientId) => ({
          client_id: clientId,
          client_name: clientId,
          client_uri: null,
          logo_uri: null,
          _links: { app: { href: `${base}/api/v1/apps/${clientId}` } },
        })),
      );
    });

    /** Okta refuses credential and factor changes once a user is deactivated. */
    const deprovisioned = (user: SandboxUser, res: Response): boolean => {
      if (user.status !== 'DEPROVISIONED') return false;
      sendError(res, 403, 'E0000038', "This operation is not allowed in the user's current status.");
      return true;
    };

    // A partial update: the emulator takes only what the adapter sends, a new password.
    app.post('/api/v1/users/:userId', (req, res) => {
      const user = userOr404(req, res);
      if (!user) return;
      const parsed = z.object({ credentials: z.object({ password: z.object({ value: z.string() }) }) }).safeParse(req.body);
      if (!parsed.success) return sendError(res, 400, 'E0000001', 'Api validation failed: credentials', ['Expected a password value']);
      if (parsed.data.credentials.password.value.length < 8) {
        return sendError(res, 400, 'E0000001', 'Api validation failed: password', ['password: Password requirements were not met.']);
      }
      if (deprovisioned(user, res)) return;
      if (control.lie()) return res.json(userJson(user, requestOrigin(req)));
      // Only the time is kept: nothing in the emulator could leak the value.
      user.passwordChanged = user.lastUpdated = iso();
      control.countWrite('set_password', user.id);
      res.json(userJson(user, requestOrigin(req)));
    });

    app.post('/api/v1/users/:userId/lifecycle/reset_factors', (req, res) => {
      const user = userOr404(req, res);
      if (!user) return;
      if (deprovisioned(user, res)) return;
      if (control.lie()) return res.json({});
      user.factors = [];
      control.countWrite('reset_factors', user.id);
      res.json({});
    });

    app.get('/api/v1/users/:userId/factors', (req, res) => {
      const user = userOr404(req, res);
      if (!user) return;
      const base = requestOrigin(req);
      res.json(
        user.factors.map((f) => ({
          id: f.id,
          factorType: f.factorType,
          provider: factorProvider[f.factorType],
          vendorName: factorProvider[f.factorType],
          status: 'ACTIVE',
          created: f.created,
          lastUpdated: f.created,
          profile: {},
          _links: { self: { href: `${base}/api/v1/users/${user.id}/factors/${f.id}` } },
        })),
      );
    });

    app.get('/api/v1/users/:userId/roles', (req, res) => {
      const user = userOr404(req, res);
      if (!user) return;
      const base = requestOrigin(req);
      res.json(
        user.roles.map((r) => ({
          id: r.id,
          label: roleLabels[r.type] ?? r.type,
          type: r.type,
          status: 'ACTIVE',
          created: r.created,
          lastUpdated: r.created,
          assignmentType: r.assignmentType,
          _links: { assignee: { href: `${base}/api/v1/users/${user.id}` } },
        })),
      );
    });

    app.delete('/api/v1/users/:userId/roles/:roleAssignmentId', (req, res) => {
      const user = userOr404(req, res);
      if (!user) return;
      const role = user.roles.find((r) => r.id === req.params.roleAssignmentId);
      if (!role) return sendError(res, 404, 'E0000007', `Not found: Resource not found: ${req.params.roleAssignmentId} (Role)`);
      if (control.lie()) return res.status(204).end();
      if (role.assignmentType === 'GROUP') {
        return sendError(res, 400, 'E0000001', 'Api validation failed: roleId', ['The role is assigned through a group']);
      }
      user.roles = user.roles.filter((r) => r !== role);
      control.countWrite('unassign_role', user.id);
      res.status(204).end();
    });

    app.get('/api/v1/users/:userId/groups', (req, res) => {
      const user = userOr404(req, res);
      if (!user) return;
      const groups = [...user.groupIds].map((id) => state.groups.get(id)).filter((g) => g !== undefined);
      res.json(groups.map((g) => groupJson(g, requestOrigin(req))));
    });

    app.delete('/api/v1/groups/:groupId/users/:userId', (req, res) => {
      const group = state.groups.get(req.params.groupId);
      if (!group) {
        return sendError(res, 404, 'E0000007', `Not found: Resource not found: ${req.params.groupId} (UserGroup)`);
      }
      const user = userOr404(req, res);
      if (!user) return;
      if (control.lie()) return res.status(204).end();
      if (group.type !== 'OKTA_GROUP') {
        const cause = `Cannot remove users from a group of type ${group.type}`;
        return sendError(res, 400, 'E0000001', 'Api validation failed: groupId', [cause]);
      }
      if (user.groupIds.delete(group.id)) control.countWrite('remove_group', user.id);
      res.status(204).end();
    });
  };
}

/**
 * One page of a listing as Okta serves it: at most `limit` items (default and maximum 200)
 * after the `after` cursor (an id), ordered by id, and a `Link: <…>; rel="next"` header with
 * the next page's absolute URL while more remain (the SDK's collection follows it).
 */
function sendPage<T extends { id: string }>(req: Request, res: Response, items: T[], json: (item: T) => unknown): void {
  const limit = Math.min(Math.max(Number(req.query.limit ?? 200) || 200, 1), 200);
  const after = typeof req.query.after === 'string' ? req.query.after : '';
  const sorted = items.filter((i) => i.id > after).sort((a, b) => (a.id < b.id ? -1 : 1));
  const page = sorted.slice(0, limit);
  const self = new URL(req.originalUrl, requestOrigin(req));
  const links = [`<${self.href}>; rel="self"`];
  if (sorted.length > limit) {
    const next = new URL(self.href);
    next.searchParams.set('after', page.at(-1)!.id);
    next.searchParams.set('limit', String(limit));
    links.push(`<${next.href}>; rel="next"`);
  }
  res.set('Link', links.join(', '));
  res.json(page.map(json));
}

/**
 * The part of Okta's search syntax the emulator understands: one `property op "value"` with
 * `eq`, `sw` or `co` (operators and values case-insensitive, as Okta's are) on a profile
 * attribute. Null for anything else, which Okta would answer 400 as well or answer otherwise.
 */
function searchMatcher(search: string): ((profile: Record<string, string>) => boolean) | null {
  const parsed = /^\s*profile\.(\w+)\s+(eq|sw|co)\s+"((?:[^"\\]|\\.)*)"\s*$/i.exec(search);
  if (!parsed) return null;
  const [, attribute = '', op = '', raw = ''] = parsed;
  const value = raw.replace(/\\(.)/g, '$1').toLowerCase();
  return (profile) => {
    const actual = Object.hasOwn(profile, attribute) ? profile[attribute]?.toLowerCase() : undefined;
    if (actual === undefined) return false;
    const operator = op.toLowerCase();
    return operator === 'eq' ? actual === value : operator === 'sw' ? actual.startsWith(value) : actual.includes(value);
  };
}

/** Body of `POST /__sandbox/members`: `count` active people of a client domain, optionally in its group. */
const seedMembersSchema = z
  .object({
    domain: z.string().regex(/^[a-z0-9.-]+$/),
    count: z.number().int().min(1).max(10_000),
    prefix: z
      .string()
      .regex(/^[a-z0-9.-]+$/)
      .default('member'),
    group: z.string().min(1).max(200).optional(),
  })
  .strict();

function controlRoutes(state: OktaState) {
  return (router: Router) => {
    // A client's people in bulk (customer offboarding): <prefix>-<n>@<domain>, ACTIVE, with a grant and a token each.
    router.post('/members', (req, res) => {
      const parsed = seedMembersSchema.safeParse(req.body ?? {});
      if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
      const { domain, count, prefix, group } = parsed.data;
      const ids: string[] = [];
      for (let n = 1; n <= count; n += 1) {
        const login = `${prefix}-${n}@${domain}`;
        if (state.find(login)) return void res.status(409).json({ error: `login exists: ${login}` });
        const groups = group ? [{ name: group, type: 'OKTA_GROUP' as const }] : [];
        ids.push(state.create(oktaSeedUserSchema.parse({ login, groups, grants: ['0oaclientportal'], tokens: ['0oaclientportal'] })).id);
      }
      res.status(201).json({ ids, groupId: group ? state.group(group, 'OKTA_GROUP').id : null });
    });
    router.post('/users', (req, res) => {
      const parsed = oktaSeedUserSchema.safeParse(req.body ?? {});
      if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
      if (state.find(parsed.data.login)) return void res.status(409).json({ error: 'login exists' });
      const user = state.create(parsed.data);
      res.status(201).json(userJson(user, requestOrigin(req)));
    });
    // The raw state, including what no Okta endpoint shows in one place.
    router.get('/users/:userId', (req, res) => {
      const user = state.users.get(req.params.userId);
      if (!user) return void res.status(404).json({ error: 'no such user' });
      res.json({
        ...userJson(user, requestOrigin(req)),
        groups: [...user.groupIds].map((id) => state.groups.get(id)).map((g) => ({ name: g?.name, type: g?.type })),
        grants: user.grants.map((g) => g.clientId),
        tokenClients: [...user.tokenClients],
        factors: user.factors.map((f) => f.factorType),
        roles: user.roles.map((r) => ({ type: r.type, assignmentType: r.assignmentType })),
      });
    });
    // Fault injection for drift (issue 30): what a directory sync or a helpdesk agent does after an offboarding.
    router.post('/users/:userId/reactivate', (req, res) => {
      const user = state.users.get(req.params.userId);
      if (!user) return void res.status(404).json({ error: 'no such user' });
      state.setStatus(user, 'ACTIVE');
      res.json(userJson(user, requestOrigin(req)));
    });
    router.post('/users/:userId/groups', (req, res) => {
      const user = state.users.get(req.params.userId);
      const parsed = z.object({ name: z.string().min(1).max(200), type: z.enum(['OKTA_GROUP', 'APP_GROUP']) }).safeParse(req.body ?? {});
      if (!user) return void res.status(404).json({ error: 'no such user' });
      if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
      user.groupIds.add(state.group(parsed.data.name, parsed.data.type).id);
      user.lastUpdated = iso();
      res.status(204).end();
    });
    router.post('/lifecycle', (req, res) => {
      const parsed = z.object({ deactivationMs: z.number().int().min(0).max(60_000) }).safeParse(req.body ?? {});
      if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
      state.deactivationMs = parsed.data.deactivationMs;
      res.json({ deactivationMs: state.deactivationMs });
    });
  };
}

/** Starts the Okta emulator on 127.0.0.1 (a random port unless given). */
export async function startOktaSandbox(options: SandboxOptions & { port?: number } = {}): Promise<RunningSandbox> {
  const state = new OktaState();
  const sandbox = createSandboxApp(oktaStyle, options, routes(state), controlRoutes(state));
  return listenSandbox(sandbox, { port: options.port });
}
