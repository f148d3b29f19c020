/**
 * A stateful emulator of the slice of Microsoft Graph v1.0 and of the identity platform's
 * token endpoint that the adapter uses, on Graph's wire format: JSON bodies with
 * `@odata.context`, collections under `value` with `@odata.nextLink` paging, errors as
 * `{ error: { code, message, innerError: { date, request-id } } }`, throttling as 429 with
 * Retry-After in seconds. Graph routes require a bearer token the token endpoint issued,
 * so the real SDK's auth path is exercised too.
 *
 * It also reproduces the trap PROVIDERS.md warns about: `DELETE /groups/{g}/members/{u}`
 * WITHOUT `/$ref` deletes the user object, so a test of remove_groups can catch it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import {
  createSandboxApp,
  listenSandbox,
  type RunningSandbox,
  type SandboxApp,
  type SandboxControl,
  type SandboxOptions,
  type SandboxStyle,
  requestOrigin,
} from '../sandbox/kit.ts';
import { AuthMethodStore, type SeedAuthMethod } from './sandbox-auth-methods.ts';
import { MailRuleStore, type SeedInboxRule } from './sandbox-mail-rules.ts';
import { roleAssignmentsRoute, type AssignableRole } from './sandbox-role-assignments.ts';
import { PermissionGrantStore, type SeedPermissionGrant } from './sandbox-permission-grants.ts';
import { DriveLinkStore, LINK_SCOPES, type LinkScope, type SeedDriveItem } from './sandbox-drive-links.ts';
import { DeviceStore, type SeedDevice } from './sandbox-devices.ts';
import { SANDBOX_TENANT_ID, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from './sandbox-credentials.ts';

export { SANDBOX_TENANT_ID, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET };

export interface MicrosoftSandboxOptions extends SandboxOptions {
  /** Page size of collections when the request has no `$top`. Default 100, as Graph. */
  pageSize?: number;
  /** Lifetime of issued tokens. Default 3599 s, as the identity platform. */
  tokenLifetimeSeconds?: number;
  /** Page size of OneDrive delta without `$top`. Default 2: small, so every caller pages through nextLink. */
  deltaPageSize?: number;
}

interface SandboxUser {
  id: string;
  userPrincipalName: string;
  mail: string | null;
  displayName: string;
  accountEnabled: boolean;
  /** `Member`, or `Guest` for a B2B guest (a client's person invited into the tenant). */
  userType: 'Member' | 'Guest';
  createdDateTime: string;
  signInSessionsValidFromDateTime: string;
  /** The only trace of a password the sandbox keeps: when it was last set. */
  lastPasswordChangeDateTime: string;
  /** Set when soft-deleted: the user then sits in /directory/deletedItems. */
  deletedDateTime?: string;
}

interface SandboxGroup {
  id: string;
  displayName: string;
  groupTypes: string[];
  membershipRule: string | null;
  members: Set<string>;
}

type SandboxRole = AssignableRole;

interface SandboxPermission {
  id: string;
  roles: string[];
  email: string;
  userId: string | null;
  displayName: string | null;
}

interface SandboxDrive {
  id: string;
  ownerId: string;
  permissions: SandboxPermission[];
}

/** What a test can seed through `POST /__sandbox/users`. */
export interface SeedUserInput {
  userPrincipalName: string;
  mail?: string | null;
  displayName?: string;
  accountEnabled?: boolean;
  /** Default `Member`. */
  userType?: 'Member' | 'Guest';
  /** Groups to create with the user as a member; `dynamic` makes a DynamicMembership group. */
  groups?: Array<{ displayName?: string; dynamic?: boolean }>;
  /** Directory roles (memberOf lists them too: they are not groups). */
  directoryRoles?: string[];
  /** Give the user a OneDrive. Default true. */
  drive?: boolean;
  /** Files and folders of the OneDrive, with their sharing links. Default none. */
  driveItems?: SeedDriveItem[];
  /** Authentication methods besides the password; the first is the default MFA method. Default none. */
  authMethods?: SeedAuthMethod[];
  /** Give the user an Exchange Online mailbox. Default true. */
  mailbox?: boolean;
  /** Inbox rules of the mailbox. Default none. */
  inboxRules?: SeedInboxRule[];
  /** Delegated consents the user gave to client apps (oauth2PermissionGrants). Default none. */
  permissionGrants?: SeedPermissionGrant[];
  /** Intune managed devices of the user, each with its Entra device object. Default none. */
  managedDevices?: SeedDevice[];
  signInSessionsValidFromDateTime?: string;
}

export interface SeededUser {
  id: string;
  userPrincipalName: string;
  groupIds: string[];
  dynamicGroupIds: string[];
  roleIds: string[];
  driveId: string | null;
}

/** The directory state, as tests see it through `GET /__sandbox/users/{id}`. */
export interface SandboxUserState {
  id: string;
  userPrincipalName: string;
  deleted: boolean;
  accountEnabled: boolean;
  signInSessionsValidFromDateTime: string;
  lastPasswordChangeDateTime: string;
  groupIds: string[];
  /** Authentication methods other than the password, by type. */
  authMethodTypes: string[];
  /** Display names of the inbox rules; null without a mailbox. */
  inboxRules: string[] | null;
  /** Display names of the directory roles assigned to the user. */
  directoryRoles: string[];
  /** Scopes of the user's delegated permission grants. */
  permissionGrants: string[];
  drivePermissions: Array<{ email: string; roles: string[] }>;
  /** Sharing links the OneDrive's items hold themselves (ids and scopes, never the URLs). */
  publicLinks: Array<{ itemId: string; permissionId: string; scope: LinkScope; type: string }>;
}

const USER_DEFAULT_PROPERTIES = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
  'id',
];
/** Properties Graph returns only when `$select`ed. */
const USER_SELECT_ONLY = ['accountEnabled', 'signInSessionsValidFromDateTime', 'lastPasswordChangeDateTime', 'createdDateTime', 'userType'];
/** An account that existed long before its offboarding: its sessions date from then. */
const ACCOUNT_AGE_MS = 30 * 24 * 3600_000;

/** Graph timestamps carry whole seconds. */
function graphTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Why Graph would refuse this passwordProfile, or null (Entra's default policy: 8-256 characters, 3 of 4 classes). */
function passwordProblem(profile: unknown): string | null {
  if (profile === undefined) return null;
  const password = (typeof profile === 'object' && profile !== null ? profile : {}) as {
    password?: unknown;
    forceChangePasswordNextSignIn?: unknown;
  };
  if (typeof password.password !== 'string') return "Invalid value specified for property 'passwordProfile' of resource 'User'.";
  if ('forceChangePasswordNextSignIn' in password && typeof password.forceChangePasswordNextSignIn !== 'boolean') {
    return "Invalid value specified for property 'forceChangePasswordNextSignIn' of resource 'PasswordProfile'.";
  }
  const value = password.password;
  const classes = [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(value)).length;
  if (value.length < 8 || value.length > 256 || classes < 3) {
    return 'The specified password does not comply with password complexity requirements. Please provide a different password.';
  }
  return null;
}

function graphError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({
    error: {
      code,
      message,
      innerError: { date: graphTime(Date.now()), 'request-id': randomUUID(), 'client-request-id': randomUUID() },
    },
  });
}

class Directory {
  readonly users = new Map<string, SandboxUser>();
  /** Soft-deleted users: never auto-provisioned again under the same UPN. */
  readonly deleted = new Map<string, SandboxUser>();
  readonly groups = new Map<string, SandboxGroup>();
  readonly roles = new Map<string, SandboxRole>();
  readonly drives = new Map<string, SandboxDrive>();
  readonly driveByUser = new Map<string, string>();
  readonly tokens = new Map<string, number>();
  readonly authMethods = new AuthMethodStore();
  readonly mailRules = new MailRuleStore();
  readonly permissionGrants = new PermissionGrantStore();
  readonly driveLinks: DriveLinkStore;

  constructor(deltaPageSize: number) {
    this.driveLinks = new DriveLinkStore(deltaPageSize);
  }
  readonly devices = new DeviceStore();

  find(key: string): SandboxUser | undefined {
    const byId = this.users.get(key);
    if (byId) return byId;
    const lower = key.toLowerCase();
    for (const user of this.users.values()) if (user.userPrincipalName.toLowerCase() === lower) return user;
    return undefined;
  }

  wasDeleted(key: string): boolean {
    const lower = key.toLowerCase();
    for (const user of this.deleted.values()) {
      if (user.id === key || user.userPrincipalName.toLowerCase() === lower) return true;
    }
    return false;
  }

  seed(input: SeedUserInput): SeededUser {
    const created = Date.now() - ACCOUNT_AGE_MS;
    const user: SandboxUser = {
      id: randomUUID(),
      userPrincipalName: input.userPrincipalName,
      mail: input.mail === undefined ? input.userPrincipalName : input.mail,
      displayName: input.displayName ?? input.userPrincipalName.split('@')[0] ?? input.userPrincipalName,
      accountEnabled: input.accountEnabled ?? true,
      userType: input.userType ?? 'Member',
      createdDateTime: graphTime(created),
      signInSessionsValidFromDateTime: input.signInSessionsValidFromDateTime ?? graphTime(created),
      lastPasswordChangeDateTime: graphTime(created),
    };
    this.users.set(user.id, user);
    const seeded: SeededUser = {
      id: user.id,
      userPrincipalName: user.userPrincipalName,
      groupIds: [],
      dynamicGroupIds: [],
      roleIds: [],
      driveId: null,
    };
    for (const [i, spec] of (input.groups ?? []).entries()) {
      const group: SandboxGroup = {
        id: randomUUID(),
        displayName: spec.displayName ?? `${spec.dynamic ? 'Dynamic' : 'Assigned'} group ${i + 1}`,
        groupTypes: spec.dynamic ? ['DynamicMembership'] : [],
        membershipRule: spec.dynamic ? '(user.department -eq "Sales")' : null,
        members: new Set([user.id]),
      };
      this.groups.set(group.id, group);
      (spec.dynamic ? seeded.dynamicGroupIds : seeded.groupIds).push(group.id);
    }
    for (const name of input.directoryRoles ?? []) {
      const role: SandboxRole = {
        id: randomUUID(),
        displayName: name,
        members: new Set([user.id]),
        assignments: new Map([[user.id, randomBytes(24).toString('base64url')]]),
      };
      this.roles.set(role.id, role);
      seeded.roleIds.push(role.id);
    }
    this.authMethods.seed(user.id, Array.isArray(input.authMethods) ? input.authMethods : []);
    this.mailRules.seed(user.id, Array.isArray(input.inboxRules) ? input.inboxRules : [], input.mailbox ?? true);
    this.permissionGrants.seed(user.id, Array.isArray(input.permissionGrants) ? input.permissionGrants : []);
    for (const device of Array.isArray(input.managedDevices) ? input.managedDevices.slice(0, 20) : []) this.devices.enrol(user, device);
    if (input.drive ?? true) {
      const drive: SandboxDrive = {
        id: `b!${randomBytes(18).toString('base64url')}`,
        ownerId: user.id,
        permissions: [
          {
            id: 'aTowIy5mfG1lbWJlcnNoaXA',
            roles: ['owner'],
            email: user.mail ?? user.userPrincipalName,
            userId: user.id,
            displayName: user.displayName,
          },
        ],
      };
      this.drives.set(drive.id, drive);
      this.driveByUser.set(user.id, drive.id);
      this.driveLinks.seed(drive.id, user.id, Array.isArray(input.driveItems) ? input.driveItems : []);
      seeded.driveId = drive.id;
    }
    return seeded;
  }

  /** Puts a user in an assigned group of that name (made if missing): drift for remove_groups. */
  addToAssignedGroup(userId: string, displayName: string): void {
    const existing = [...this.groups.values()].find((g) => g.displayName === displayName && g.groupTypes.length === 0);
    if (existing) return void existing.members.add(userId);
    const group: SandboxGroup = { id: randomUUID(), displayName, groupTypes: [], membershipRule: null, members: new Set([userId]) };
    this.groups.set(group.id, group);
  }

  /**
   * What autoProvision creates: an enabled user in one assigned and one dynamic group, with
   * a OneDrive, two MFA methods (the Authenticator app is the default, so Graph's
   * "default method last" refusal is met on the way), a mailbox with a forwarding rule and
   * a directory role, a delegated consent to an app and an Intune-managed iPhone.
   */
  provision(userPrincipalName: string): SandboxUser {
    const seeded = this.seed({
      userPrincipalName,
      groups: [{ displayName: 'All Staff' }, { displayName: 'Sales (dynamic)', dynamic: true }],
      authMethods: ['microsoftAuthenticator', 'mobilePhone'],
      // One rule leaks the mail out, one only files it: stop_mail_forwarding removes the first.
      inboxRules: [
        { displayName: 'Send everything home', forwardTo: ['leaver.private@example.net'] },
        { displayName: 'Newsletters', moveToFolder: 'Archive' },
      ],
      // An admin role that outlives the disable unless remove_admin_roles takes it away.
      directoryRoles: ['Helpdesk Administrator'],
      // A consent that lets an app keep reading mail after the sessions are revoked.
      permissionGrants: [{ scope: 'openid profile offline_access Mail.Read' }],
      // An anyone link on a folder (its file inherits it) and an organization-wide link that
      // revoke_public_links keeps unless its step names that scope too.
      driveItems: [
        { name: 'Client deliverables', folder: true, links: [{ scope: 'anonymous', type: 'view' }] },
        { name: 'Proposal.docx', parent: 0 },
        { name: 'Team plan.xlsx', links: [{ scope: 'organization', type: 'edit' }] },
      ],
      // A phone with the company's mail and apps on it: wipe_devices retires it.
      managedDevices: [{ operatingSystem: 'iOS' }],
    });
    return this.users.get(seeded.id)!;
  }

  remove(user: SandboxUser): void {
    this.users.delete(user.id);
    user.deletedDateTime = graphTime(Date.now());
    this.deleted.set(user.id, user);
  }

  memberOf(userId: string): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const group of this.groups.values()) {
      if (!group.members.has(userId)) continue;
      out.push({
        '@odata.type': '#microsoft.graph.group',
        id: group.id,
        displayName: group.displayName,
        groupTypes: group.groupTypes,
        membershipRule: group.membershipRule,
        mailEnabled: false,
        securityEnabled: true,
      });
    }
    for (const role of this.roles.values()) {
      if (role.members.has(userId))
        out.push({ '@odata.type': '#microsoft.graph.directoryRole', id: role.id, displayName: role.displayName });
    }
    return out;
  }

  state(id: string): SandboxUserState | null {
    const user = this.users.get(id) ?? this.deleted.get(id);
    if (!user) return null;
    const driveId = this.driveByUser.get(id);
    const drive = driveId ? this.drives.get(driveId) : undefined;
    return {
      id: user.id,
      userPrincipalName: user.userPrincipalName,
      deleted: this.deleted.has(id),
      accountEnabled: user.accountEnabled,
      signInSessionsValidFromDateTime: user.signInSessionsValidFromDateTime,
      lastPasswordChangeDateTime: user.lastPasswordChangeDateTime,
      groupIds: [...this.groups.values()].filter((g) => g.members.has(id)).map((g) => g.id),
      authMethodTypes: this.authMethods.types(id),
      inboxRules: this.mailRules.names(id),
      directoryRoles: [...this.roles.values()].filter((r) => r.assignments.has(id)).map((r) => r.displayName),
      permissionGrants: this.permissionGrants.scopes(id),
      drivePermissions: (drive?.permissions ?? []).map((p) => ({ email: p.email, roles: [...p.roles] })),
      publicLinks: driveId ? this.driveLinks.links(driveId) : [],
    };
  }
}

const TOKEN_PATH = /^\/([^/]+)\/oauth2\/v2\.0\/token$/;

function bearerOf(req: Request): string | null {
  const header = req.get('authorization') ?? '';
  const match = /^Bearer (.+)$/i.exec(header);
  return match?.[1] ?? null;
}

function graphStyle(directory: Directory): SandboxStyle {
  return {
    rateLimited(res, retryAfterMs) {
      // Graph sends Retry-After in whole seconds.
      res.set('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
      graphError(res, 429, 'TooManyRequests', 'Too many requests. Please retry after the interval in Retry-After.');
    },
    serverError(res) {
      graphError(res, 503, 'serviceNotAvailable', 'Service unavailable.');
    },
    unauthorized(res) {
      res.set('WWW-Authenticate', 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"');
      graphError(res, 401, 'InvalidAuthenticationToken', 'Access token is empty or invalid.');
    },
    authorized(req) {
      // The token endpoint is how a caller gets a credential; everything else needs one.
      if (req.method === 'POST' && TOKEN_PATH.test(req.path)) return true;
      const token = bearerOf(req);
      const expiresAt = token ? directory.tokens.get(token) : undefined;
      return expiresAt !== undefined && expiresAt > Date.now();
    },
  };
}

/** The identity platform's client-credentials endpoint, with its error shapes and AADSTS codes. */
function tokenEndpoint(directory: Directory, lifetimeSeconds: number) {
  return (req: Request, res: Response) => {
    const tenant = decodeURIComponent(TOKEN_PATH.exec(req.path)?.[1] ?? '');
    const form = (req.body ?? {}) as Record<string, unknown>;
    const fail = (status: number, error: string, code: number, description: string) => {
      res.status(status).json({
        error,
        error_description: `AADSTS${code}: ${description} Trace ID: ${randomUUID()} Timestamp: ${new Date().toISOString()}`,
        error_codes: [code],
        timestamp: new Date().toISOString(),
        trace_id: randomUUID(),
        correlation_id: randomUUID(),
      });
    };
    if (!req.is('application/x-www-form-urlencoded'))
      return fail(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
    if (tenant !== SANDBOX_TENANT_ID) return fail(400, 'invalid_request', 90002, `Tenant '${tenant}' not found.`);
    if (form.grant_type !== 'client_credentials')
      return fail(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    if (form.client_id !== SANDBOX_CLIENT_ID)
      return fail(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${String(form.client_id)}' was not found in the directory.`,
      );
    if (form.client_secret !== SANDBOX_CLIENT_SECRET) return fail(401, 'invalid_client', 7000215, 'Invalid client secret provided.');
    if (typeof form.scope !== 'string' || !form.scope.endsWith('/.default'))
      return fail(
        400,
        'invalid_scope',
        1002012,
        'The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.',
      );
    const now = Date.now();
    // Forget expired tokens so a long-running sandbox (demo, benchmarks) does not grow without bound.
    for (const [issued, expiresAt] of directory.tokens) if (expiresAt <= now) directory.tokens.delete(issued);
    const token = randomBytes(32).toString('base64url');
    directory.tokens.set(token, now + lifetimeSeconds * 1000);
    res.json({ token_type: 'Bearer', expires_in: lifetimeSeconds, ext_expires_in: lifetimeSeconds, access_token: token });
  };
}

function selectList(req: Request): string[] | null {
  const select = req.query.$select;
  return typeof select === 'string' && select !== '' ? select.split(',').map((s) => s.trim()) : null;
}

function graphRoutes(directory: Directory, control: SandboxControl, pageSize: number) {
  const root = (req: Request) => `${requestOrigin(req)}/v1.0`;

  const userView = (req: Request, res: Response, user: SandboxUser): Record<string, unknown> | null => {
    const select = selectList(req);
    const all: Record<string, unknown> = {
      businessPhones: [],
      displayName: user.displayName,
      givenName: null,
      jobTitle: null,
      mail: user.mail,
      mobilePhone: null,
      officeLocation: null,
      preferredLanguage: null,
      surname: null,
      userPrincipalName: user.userPrincipalName,
      id: user.id,
      accountEnabled: user.accountEnabled,
      signInSessionsValidFromDateTime: user.signInSessionsValidFromDateTime,
      lastPasswordChangeDateTime: user.lastPasswordChangeDateTime,
      createdDateTime: user.createdDateTime,
      userType: user.userType,
    };
    const fields = select ?? USER_DEFAULT_PROPERTIES;
    const unknown = fields.find((f) => !USER_DEFAULT_PROPERTIES.includes(f) && !USER_SELECT_ONLY.includes(f));
    if (unknown) {
      graphError(res, 400, 'Request_BadRequest', `Could not find a property named '${unknown}' on type 'microsoft.graph.user'.`);
      return null;
    }
    return Object.fromEntries(fields.map((f) => [f, all[f]]));
  };

  const pageOf = <T>(req: Request, items: T[]): { page: T[]; next: string | null } => {
    const top = Number(req.query.$top ?? pageSize);
    const size = Number.isInteger(top) && top > 0 ? Math.min(top, 999) : pageSize;
    const token = typeof req.query.$skiptoken === 'string' ? req.query.$skiptoken : null;
    const offset = token ? Number(Buffer.from(token, 'base64url').toString()) || 0 : 0;
    const page = items.slice(offset, offset + size);
    if (offset + size >= items.length) return { page, next: null };
    const keep = Object.entries(req.query)
      .filter(([k, v]) => k !== '$skiptoken' && typeof v === 'string')
      .map(([k, v]) => `${k}=${encodeURIComponent(v as string)}`);
    const skip = Buffer.from(String(offset + size)).toString('base64url');
    return { page, next: `${root(req)}${req.path}?${[...keep, `$skiptoken=${skip}`].join('&')}` };
  };

  /** What the drive-link store needs of the directory: the root's user grants, shown as inherited by every item. */
  const driveIo = (req: Request, driveId: string) => ({
    control,
    graphError,
    root: root(req),
    rootPermissions: () => (directory.drives.get(driveId)?.permissions ?? []).map(permissionView),
  });

  const userOr404 = (res: Response, key: string): SandboxUser | null => {
    const user = directory.find(key);
    if (!user) {
      graphError(
        res,
        404,
        'Request_ResourceNotFound',
        `Resource '${key}' does not exist or one of its queried reference-property objects are not present.`,
      );
      return null;
    }
    return user;
  };

  return (req: Request, res: Response) => {
    let parts: string[];
    try {
      parts = req.path.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      return graphError(res, 400, 'BadRequest', 'Malformed path.');
    }
    const [collection, key, nav, sub, subKey, ref, ...rest] = parts;
    const is = (value: string | undefined, name: string) => value?.toLowerCase() === name.toLowerCase();
    const method = req.method;

    if (is(collection, 'users') && key === undefined && method === 'GET') {
      let users = [...directory.users.values()];
      const filter = req.query.$filter;
      const guests =
        typeof filter === 'string' ? /^userType eq 'Guest' and endswith\(mail,\s*'((?:[^']|'')*)'\)$/i.exec(filter.trim()) : null;
      if (guests) {
        // endswith is an advanced query: Graph refuses it without ConsistencyLevel: eventual and $count=true.
        if (req.get('consistencylevel')?.toLowerCase() !== 'eventual' || req.query.$count !== 'true') {
          return graphError(
            res,
            400,
            'Request_UnsupportedQuery',
            "Operator 'endsWith' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header.",
          );
        }
        const suffix = guests[1]!.replace(/''/g, "'").toLowerCase();
        users = users.filter((u) => u.userType === 'Guest' && (u.mail ?? '').toLowerCase().endsWith(suffix));
      } else if (typeof filter === 'string') {
        const match = /^(mail|userPrincipalName) eq '((?:[^']|'')*)'$/i.exec(filter.trim());
        if (!match) return graphError(res, 400, 'Request_UnsupportedQuery', 'Unsupported or invalid query filter clause specified.');
        const property = match[1]!.toLowerCase() === 'mail' ? 'mail' : 'userPrincipalName';
        const value = match[2]!.replace(/''/g, "'").toLowerCase();
        users = users.filter((u) => (u[property] ?? '').toLowerCase() === value);
      }
      const { page, next } = pageOf(req, users);
      const views: Array<Record<string, unknown>> = [];
      const counted = req.query.$count === 'true' ? { '@odata.count': users.length } : {};
      for (const user of page) {
        const view = userView(req, res, user);
        if (!view) return;
        views.push(view);
      }
      const body: Record<string, unknown> = { '@odata.context': `${root(req)}/$metadata#users`, ...counted, value: views };
      if (next) body['@odata.nextLink'] = next;
      return res.json(body);
    }

    if (is(collection, 'users') && key !== undefined) {
      if (nav === undefined && method === 'GET') {
        let user = directory.find(key);
        if (!user && control.autoProvision && key.includes('@') && !directory.wasDeleted(key)) user = directory.provision(key);
        if (!user) return userOr404(res, key);
        const view = userView(req, res, user);
        if (!view) return;
        const select = selectList(req);
        return res.json({ '@odata.context': `${root(req)}/$metadata#users${select ? `(${select.join(',')})` : ''}/$entity`, ...view });
      }
      const user = userOr404(res, key);
      if (!user) return;
      if (nav === undefined && method === 'PATCH') {
        const body = (req.body ?? {}) as Record<string, unknown>;
        if ('accountEnabled' in body && typeof body.accountEnabled !== 'boolean') {
          return graphError(res, 400, 'Request_BadRequest', "Invalid value specified for property 'accountEnabled' of resource 'User'.");
        }
        const password = passwordProblem(body.passwordProfile);
        if (password) return graphError(res, 400, 'Request_BadRequest', password);
        if (control.lie()) return res.status(204).end();
        if (typeof body.accountEnabled === 'boolean') user.accountEnabled = body.accountEnabled;
        // The password itself is dropped here: only the time of the change is kept.
        if (body.passwordProfile !== undefined) user.lastPasswordChangeDateTime = graphTime(Date.now());
        control.countWrite(body.passwordProfile !== undefined ? 'reset_password' : 'update_user', user.id);
        return res.status(204).end();
      }
      if (nav === undefined && method === 'DELETE') {
        if (control.lie()) return res.status(204).end();
        directory.remove(user);
        control.countWrite('delete_user', user.id);
        return res.status(204).end();
      }
      if (is(nav, 'revokeSignInSessions') && sub === undefined && method === 'POST') {
        const answer = { '@odata.context': `${root(req)}/$metadata#Edm.Boolean`, value: true };
        if (control.lie()) return res.json(answer);
        user.signInSessionsValidFromDateTime = graphTime(Date.now());
        control.countWrite('revoke_sessions', user.id);
        return res.json(answer);
      }
      if (is(nav, 'memberOf') && sub === undefined && method === 'GET') {
        const { page, next } = pageOf(req, directory.memberOf(user.id));
        const body: Record<string, unknown> = { '@odata.context': `${root(req)}/$metadata#directoryObjects`, value: page };
        if (next) body['@odata.nextLink'] = next;
        return res.json(body);
      }
      if (is(nav, 'authentication')) {
        const parts = { collection: sub, methodId: subKey, rest: ref };
        if (directory.authMethods.route(user.id, parts, req, res, { control, graphError, root: root(req) })) return;
      }
      if (is(nav, 'mailFolders')) {
        const parts = { folder: sub, collection: subKey, ruleId: ref };
        if (directory.mailRules.route(user.id, parts, req, res, { control, graphError, root: root(req) })) return;
      }
      if (is(nav, 'drive') && is(sub, 'root') && isDelta(subKey) && ref === undefined && method === 'GET') {
        const driveId = directory.driveByUser.get(user.id);
        if (!driveId) return graphError(res, 404, 'itemNotFound', 'The user does not have a OneDrive.');
        return directory.driveLinks.delta(driveId, req, res, driveIo(req, driveId));
      }
      if (is(nav, 'managedDevices') && sub === undefined && method === 'GET') {
        return directory.devices.listForUser(user.id, req, res, { control, graphError, root: root(req) });
      }
      if (is(nav, 'drive') && sub === undefined && method === 'GET') {
        const driveId = directory.driveByUser.get(user.id);
        if (!driveId) return graphError(res, 404, 'itemNotFound', 'The user does not have a OneDrive.');
        return res.json({
          '@odata.context': `${root(req)}/$metadata#drives/$entity`,
          id: driveId,
          driveType: 'business',
          owner: { user: { id: user.id, displayName: user.displayName } },
        });
      }
    }

    if (is(collection, 'roleManagement') && is(key, 'directory') && is(nav, 'roleAssignments') && subKey === undefined) {
      if (roleAssignmentsRoute(directory.roles, sub, req, res, { control, graphError, root: root(req) })) return;
    }

    if (is(collection, 'deviceManagement') && is(key, 'managedDevices') && subKey === undefined) {
      if (directory.devices.routeManaged(nav, sub, req, res, { control, graphError, root: root(req) })) return;
    }

    if (is(collection, 'devices') && nav === undefined) {
      if (directory.devices.routeEntra(key, req, res, { control, graphError, root: root(req) })) return;
    }

    if (is(collection, 'oauth2PermissionGrants') && nav === undefined) {
      if (directory.permissionGrants.route(key, req, res, { control, graphError, root: root(req) })) return;
    }

    // A soft-deleted user, as Graph shows it in the deleted items for 30 days.
    if (is(collection, 'directory') && is(key, 'deletedItems') && nav !== undefined && sub === undefined && method === 'GET') {
      const user = directory.deleted.get(nav);
      if (!user)
        return graphError(
          res,
          404,
          'Request_ResourceNotFound',
          `Resource '${nav}' does not exist or one of its queried reference-property objects are not present.`,
        );
      return res.json({
        '@odata.context': `${root(req)}/$metadata#directoryObjects/$entity`,
        '@odata.type': '#microsoft.graph.user',
        id: user.id,
        displayName: user.displayName,
        userPrincipalName: user.userPrincipalName,
        mail: user.mail,
        deletedDateTime: user.deletedDateTime ?? null,
      });
    }

    if (is(collection, 'groups') && key !== undefined && is(nav, 'members') && sub !== undefined && method === 'DELETE') {
      const group = directory.groups.get(key);
      if (!group)
        return graphError(
          res,
          404,
          'Request_ResourceNotFound',
          `Resource '${key}' does not exist or one of its queried reference-property objects are not present.`,
        );
      if (is(subKey, '$ref') && ref === undefined) {
        if (group.groupTypes.includes('DynamicMembership')) {
          return graphError(
            res,
            400,
            'Request_BadRequest',
            'Insufficient privileges to complete the operation. Members of a group with dynamic membership cannot be changed.',
          );
        }
        if (!group.members.has(sub))
          return graphError(
            res,
            404,
            'Request_ResourceNotFound',
            `Resource '${sub}' does not exist or one of its queried reference-property objects are not present.`,
          );
        if (control.lie()) return res.status(204).end();
        group.members.delete(sub);
        control.countWrite('remove_group_member', sub);
        return res.status(204).end();
      }
      if (subKey === undefined) {
        // No `/$ref`: the URL names the member OBJECT, and DELETE removes it from the directory.
        const user = userOr404(res, sub);
        if (!user) return;
        if (control.lie()) return res.status(204).end();
        directory.remove(user);
        control.countWrite('delete_user', user.id);
        return res.status(204).end();
      }
    }

    if (is(collection, 'drives') && key !== undefined && is(nav, 'items')) {
      if (!directory.drives.has(key)) return graphError(res, 404, 'itemNotFound', 'Item not found');
      const itemParts = { itemId: sub, collection: subKey, permissionId: ref, rest: rest.length > 0 };
      if (directory.driveLinks.route(key, itemParts, req, res, driveIo(req, key))) return;
    }

    if (is(collection, 'drives') && key !== undefined && is(nav, 'root')) {
      const drive = directory.drives.get(key);
      if (!drive) return graphError(res, 404, 'itemNotFound', 'Item not found');
      if (isDelta(sub) && subKey === undefined && method === 'GET') return directory.driveLinks.delta(key, req, res, driveIo(req, key));
      if (is(sub, 'permissions') && subKey === undefined && method === 'GET') {
        return res.json({
          '@odata.context': `${root(req)}/$metadata#drives('${key}')/root/permissions`,
          value: drive.permissions.map(permissionView),
        });
      }
      if (is(sub, 'invite') && subKey === undefined && method === 'POST') {
        const body = (req.body ?? {}) as Record<string, unknown>;
        // A hostile body may list null or a non-object: each recipient's email is read defensively.
        const recipients = Array.isArray(body.recipients) ? (body.recipients as unknown[]) : [];
        const emails = recipients.map((r) => (r as { email?: unknown } | null)?.email);
        const roles = Array.isArray(body.roles) ? (body.roles as unknown[]) : [];
        if (emails.length === 0 || emails.some((email) => typeof email !== 'string' || !email.includes('@'))) {
          return graphError(res, 400, 'invalidRequest', 'Invalid request: recipients must each have an email.');
        }
        if (roles.length === 0 || roles.some((r) => r !== 'read' && r !== 'write')) {
          return graphError(res, 400, 'invalidRequest', "Invalid request: roles must be 'read' or 'write'.");
        }
        if (body.sendInvitation === false && body.requireSignIn !== true) {
          return graphError(res, 400, 'invalidRequest', 'Invalid request: requireSignIn must be true when sendInvitation is false.');
        }
        if (control.lie()) {
          const ghost = (emails as string[]).map((email) =>
            permissionView({ id: randomUUID(), roles: roles as string[], email, userId: null, displayName: null }),
          );
          return res.json({ '@odata.context': `${root(req)}/$metadata#Collection(microsoft.graph.permission)`, value: ghost });
        }
        const granted: SandboxPermission[] = [];
        for (const email of emails as string[]) {
          const existing = drive.permissions.find((p) => p.email.toLowerCase() === email.toLowerCase());
          if (existing) {
            existing.roles = [...new Set([...existing.roles, ...(roles as string[])])];
            granted.push(existing);
            continue;
          }
          const internal = [...directory.users.values()].find(
            (u) => u.mail?.toLowerCase() === email.toLowerCase() || u.userPrincipalName.toLowerCase() === email.toLowerCase(),
          );
          const permission: SandboxPermission = {
            id: randomBytes(12).toString('base64url'),
            roles: [...(roles as string[])],
            email,
            userId: internal?.id ?? null,
            displayName: internal?.displayName ?? null,
          };
          drive.permissions.push(permission);
          granted.push(permission);
        }
        control.countWrite('grant_drive_access', drive.ownerId);
        return res.json({
          '@odata.context': `${root(req)}/$metadata#Collection(microsoft.graph.permission)`,
          value: granted.map(permissionView),
        });
      }
    }

    return graphError(res, 400, 'BadRequest', `Resource not found for the segment '${parts.at(-1) ?? ''}'.`);
  };
}

/** `delta`, as the SDK and the REST reference write it, or its bound-function form `delta()`. */
function isDelta(segment: string | undefined): boolean {
  const lower = segment?.toLowerCase();
  return lower === 'delta' || lower === 'delta()' || lower === 'microsoft.graph.delta()';
}

function permissionView(p: SandboxPermission): Record<string, unknown> {
  const identity = { ...(p.userId ? { id: p.userId } : {}), displayName: p.displayName ?? p.email, email: p.email };
  return {
    id: p.id,
    roles: p.roles,
    grantedTo: { user: identity },
    grantedToV2: { user: identity, siteUser: { ...identity, loginName: `i:0#.f|membership|${p.email}` } },
  };
}

export function createMicrosoftSandboxApp(options: MicrosoftSandboxOptions = {}): SandboxApp {
  const directory = new Directory(options.deltaPageSize ?? 2);
  const pageSize = options.pageSize ?? 100;
  return createSandboxApp(
    graphStyle(directory),
    options,
    (app, control) => {
      app.post(TOKEN_PATH, express.urlencoded({ extended: false }), tokenEndpoint(directory, options.tokenLifetimeSeconds ?? 3599));
      app.use('/v1.0', graphRoutes(directory, control, pageSize));
    },
    (router) => {
      router.post('/users', (req, res) => {
        const input = (req.body ?? {}) as SeedUserInput;
        if (typeof input.userPrincipalName !== 'string' || !input.userPrincipalName.includes('@')) {
          res.status(400).json({ error: 'userPrincipalName (with an @) is required' });
          return;
        }
        if (directory.find(input.userPrincipalName)) {
          res.status(409).json({ error: 'a user with this userPrincipalName exists' });
          return;
        }
        res.status(201).json(directory.seed(input));
      });
      // A client's people invited as B2B guests (customer offboarding): mail <prefix>-<n>@<domain>.
      router.post('/guests', (req, res) => {
        const { domain, count, prefix = 'guest' } = (req.body ?? {}) as { domain?: unknown; count?: unknown; prefix?: unknown };
        if (typeof domain !== 'string' || !/^[a-z0-9.-]+$/.test(domain) || typeof prefix !== 'string' || !/^[a-z0-9.-]+$/.test(prefix))
          return void res.status(400).json({ error: 'domain and prefix: lower-case host characters' });
        if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 10_000)
          return void res.status(400).json({ error: 'count: 1 to 10000' });
        const ids: string[] = [];
        for (let n = 1; n <= count; n += 1) {
          const mail = `${prefix}-${n}@${domain}`;
          // A guest's UPN is its address with @ as _, then #EXT# at the inviting tenant.
          const upn = `${mail.replace('@', '_')}#EXT#@sandbox.onmicrosoft.com`;
          ids.push(directory.seed({ userPrincipalName: upn, mail, userType: 'Guest', drive: false }).id);
        }
        res.status(201).json({ ids });
      });
      // Drift (issue 30): what an on-premises sync or a helpdesk agent does after an offboarding.
      router.post('/users/:id/enable', (req, res) => {
        const user = directory.find(req.params.id);
        if (!user) return void res.status(404).json({ error: 'no such user' });
        user.accountEnabled = true;
        res.status(204).end();
      });
      router.post('/users/:id/groups', (req, res) => {
        const user = directory.find(req.params.id);
        const name = (req.body as { displayName?: unknown } | undefined)?.displayName;
        if (!user) return void res.status(404).json({ error: 'no such user' });
        if (typeof name !== 'string' || name.length === 0 || name.length > 200)
          return void res.status(400).json({ error: 'displayName required' });
        directory.addToAssignedGroup(user.id, name);
        res.status(204).end();
      });
      // Drift: a file shared again with a link (default: anyone, view) after revoke_public_links ran.
      router.post('/users/:id/drive-links', (req, res) => {
        const user = directory.find(req.params.id);
        const driveId = user ? directory.driveByUser.get(user.id) : undefined;
        if (!driveId) return void res.status(404).json({ error: 'no such user, or no OneDrive' });
        const body = (req.body ?? {}) as { scope?: unknown; type?: unknown };
        const scope = body.scope ?? 'anonymous';
        const type = body.type ?? 'view';
        if (!LINK_SCOPES.includes(scope as LinkScope) || !['view', 'edit', 'embed'].includes(type as string))
          return void res.status(400).json({ error: 'scope anonymous|organization|users, type view|edit|embed' });
        res.status(201).json(directory.driveLinks.addLink(driveId, scope as LinkScope, type as 'view' | 'edit' | 'embed'));
      });
      directory.devices.controlRoutes(router, (key) => directory.find(key));
      router.get('/users/:id', (req, res) => {
        const state = directory.state(req.params.id);
        if (!state) res.status(404).json({ error: 'no such user' });
        else res.json(state);
      });
    },
  );
}

export async function startMicrosoftSandbox(
  options: MicrosoftSandboxOptions = {},
  listen: { port?: number; tls?: { key: string; cert: string } } = {},
): Promise<RunningSandbox> {
  return listenSandbox(createMicrosoftSandboxApp(options), listen);
}

/** Seeds a user through the control API (works against a sandbox in another process too). */
export async function seedMicrosoftUser(sandboxUrl: string, input: SeedUserInput): Promise<SeededUser> {
  const response = await fetch(`${sandboxUrl}/__sandbox/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  if (!response.ok) throw new Error(`seeding ${input.userPrincipalName} failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as SeededUser;
}

/** Reads a user's state (including soft-deleted ones) through the control API. */
export async function microsoftUserState(sandboxUrl: string, id: string): Promise<SandboxUserState | null> {
  const response = await fetch(`${sandboxUrl}/__sandbox/users/${encodeURIComponent(id)}`);
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`reading sandbox user ${id} failed: ${response.status}`);
  return (await response.json()) as SandboxUserState;
}
