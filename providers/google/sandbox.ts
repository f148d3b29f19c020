/**
 * Stateful emulator of the Admin SDK endpoints the Google adapter uses, on Google's own
 * paths, JSON bodies and error format, so the real `@googleapis/admin` client runs
 * against it end to end. Rate limits answer the way Directory does: 403 with reason
 * `rateLimitExceeded` (not 429). Data transfers complete after a number of polls.
 *
 * Control routes, besides the kit's (under `/__sandbox`):
 *   POST /users      seed a user: { primaryEmail, suspended?, oauthGrants?, appPasswords?, groups?,
 *                    recoveryEmail?, recoveryPhone?, backupCodes?, twoStep?, adminRoles?, superAdmin? }
 *   GET  /users/:key a user's whole state (grants, app passwords, groups, sign-outs, recovery
 *                    fields, number of backup codes)
 *
 * Backup verification codes are refused on a suspended user (400 Invalid Input), as Google
 * does (GAM: "User is suspended. You must unsuspend to process backupcodes").
 *   POST /transfers  transfer behaviour: { pollsToComplete?, outcome?: 'completed' | 'failed' }
 *   GET  /transfers  every stored transfer
 *   POST /users/:key/unsuspend        drift: the user active again (a sync or an admin undid the suspension)
 *   POST /users/:key/groups { email } drift: the user back in a group
 *   POST /users/:key/forwarding { email }              drift: Gmail forwarding to that address on again
 *   POST /users/:key/files { reach?: 'anyone' | 'domain' | 'limited' }  drift: a new file the user owns, with that link
 *
 * Gmail settings (sandbox-gmail.ts), Drive files (sandbox-drive.ts) and mobile devices
 * (sandbox-devices.ts: seed a device, make it sync, read them) live in their own
 * files; a seeded user may bring `forwardTo`, `forwardingFilters`, `imap`, `pop`, `files`,
 * `publicFiles` and `domainFiles`.
 */
import { createHash, randomInt } from 'node:crypto';
import type express from 'express';
import type { Request, Response } from 'express';
import {
  createSandboxApp,
  listenSandbox,
  type RunningSandbox,
  type SandboxControl,
  type SandboxOptions,
  type SandboxStyle,
} from '../sandbox/kit.ts';
import { SANDBOX_ACCESS_TOKEN, SANDBOX_ADMIN } from './sandbox-credentials.ts';
import { GmailSettingsStore, registerGmailRoutes, type GmailSeed } from './sandbox-gmail.ts';
import { DriveStore, registerDriveRoutes, visibilityOf, type DriveSeed } from './sandbox-drive.ts';
import { MobileDeviceStore } from './sandbox-devices.ts';

export { SANDBOX_ACCESS_TOKEN, SANDBOX_ADMIN };

const DRIVE_APP = { id: '55656082996', name: 'Drive and Docs', params: [{ key: 'PRIVACY_LEVEL', value: ['PRIVATE', 'SHARED'] }] };
const CALENDAR_APP = { id: '435070579839', name: 'Calendar', params: [{ key: 'RELEASE_RESOURCES', value: ['TRUE'] }] };
const APPLICATIONS = [DRIVE_APP, CALENDAR_APP];
/** Role ids are per customer at Google; these stand in for the super admin and a help desk role. */
export const SUPER_ADMIN_ROLE_ID = '91447453409035734';
export const HELP_DESK_ROLE_ID = '91447453409035735';

interface OauthGrant {
  clientId: string;
  displayText: string;
  scopes: string[];
}
interface AppPassword {
  codeId: number;
  name: string;
  creationTime: string;
}
export interface SandboxUser {
  id: string;
  primaryEmail: string;
  suspended: boolean;
  suspensionReason: string | null;
  creationTime: string;
  grants: OauthGrant[];
  asps: AppPassword[];
  /** Epoch ms of each applied users.signOut. */
  signOuts: number[];
  /** Empty string when not set (the API then omits the field). */
  recoveryEmail: string;
  recoveryPhone: string;
  /** Valid backup verification codes (8 digits each, as Google's). */
  backupCodes: string[];
  /** Enrolled in 2-Step Verification (one flag: the API lists no individual factors). */
  enrolledIn2Sv: boolean;
  /** Direct admin role assignments; one of SUPER_ADMIN_ROLE_ID makes `isAdmin` true. */
  roleAssignments: SandboxRoleAssignment[];
  /** SHA-256 of the current password (never the password), so tests can see it change. */
  passwordDigest: string;
  changePasswordAtNextLogin: boolean;
}
interface SandboxRoleAssignment {
  roleAssignmentId: string;
  roleId: string;
  scopeType: 'CUSTOMER';
}
interface SandboxGroup {
  id: string;
  email: string;
  name: string;
  members: Set<string>;
}
interface SandboxTransfer {
  id: string;
  oldOwnerUserId: string;
  newOwnerUserId: string;
  applicationIds: string[];
  params: Record<string, Array<{ key: string; value: string[] }>>;
  requestTime: string;
  status: 'new' | 'inProgress' | 'completed' | 'failed';
  polls: number;
}

export interface GoogleSandboxOptions extends SandboxOptions {
  /** transfers.get calls before a transfer finishes. Default 2. */
  transferPollsToComplete?: number;
}

/** The emulated Workspace: users, groups and transfers. */
export class GoogleWorkspaceState {
  readonly users = new Map<string, SandboxUser>();
  readonly groups = new Map<string, SandboxGroup>();
  readonly transfers = new Map<string, SandboxTransfer>();
  readonly gmail = new GmailSettingsStore();
  readonly drive = new DriveStore();
  /** The customer's mobile devices (mobiledevices), by resource id. */
  readonly devices = new MobileDeviceStore();
  /** Emails of deleted users: autoProvision does not bring them back. */
  readonly deletedEmails = new Set<string>();
  transferBehaviour: { pollsToComplete: number; outcome: 'completed' | 'failed' };
  private sequence = 0;

  constructor(options: GoogleSandboxOptions = {}) {
    this.transferBehaviour = { pollsToComplete: options.transferPollsToComplete ?? 2, outcome: 'completed' };
  }

  private nextNumber(): number {
    this.sequence += 1;
    return this.sequence;
  }

  /** Google user ids are 21-digit numbers, sent as strings. */
  private newUserId(): string {
    return `1${String(this.nextNumber()).padStart(20, '0')}`;
  }

  findUser(key: string): SandboxUser | undefined {
    if (/^\d+$/.test(key)) return this.users.get(key);
    const lower = key.toLowerCase();
    for (const user of this.users.values()) if (user.primaryEmail.toLowerCase() === lower) return user;
    return undefined;
  }

  findGroup(key: string): SandboxGroup | undefined {
    const lower = key.toLowerCase();
    for (const group of this.groups.values()) if (group.id === key || group.email.toLowerCase() === lower) return group;
    return undefined;
  }

  createUser(
    input: GmailSeed &
      DriveSeed & {
        primaryEmail: string;
        suspended?: boolean;
        oauthGrants?: number;
        appPasswords?: number;
        groups?: string[];
        recoveryEmail?: string;
        recoveryPhone?: string;
        backupCodes?: number;
        twoStep?: boolean;
        /** Number of help desk admin role assignments. */
        adminRoles?: number;
        superAdmin?: boolean;
      },
  ): SandboxUser {
    const n = this.nextNumber();
    const user: SandboxUser = {
      id: this.newUserId(),
      primaryEmail: input.primaryEmail,
      suspended: input.suspended ?? false,
      suspensionReason: input.suspended ? 'ADMIN' : null,
      creationTime: new Date().toISOString(),
      grants: Array.from({ length: input.oauthGrants ?? 0 }, (_, i) => ({
        clientId: `${100000 + n * 10 + i}-sandbox.apps.googleusercontent.com`,
        displayText: `Sandbox app ${i + 1}`,
        scopes: ['openid', 'email'],
      })),
      asps: Array.from({ length: input.appPasswords ?? 0 }, (_, i) => ({
        codeId: n * 10 + i,
        name: `Mail client ${i + 1}`,
        creationTime: String(Date.now()),
      })),
      signOuts: [],
      recoveryEmail: input.recoveryEmail ?? '',
      recoveryPhone: input.recoveryPhone ?? '',
      backupCodes: newBackupCodes(input.backupCodes ?? 0),
      enrolledIn2Sv: input.twoStep ?? false,
      roleAssignments: [],
      passwordDigest: digest(`initial-${n}`),
      changePasswordAtNextLogin: false,
    };
    if (input.superAdmin) this.assignRole(user, SUPER_ADMIN_ROLE_ID);
    for (let i = 0; i < (input.adminRoles ?? 0); i += 1) this.assignRole(user, HELP_DESK_ROLE_ID);
    this.users.set(user.id, user);
    for (const email of input.groups ?? []) this.groupFor(email).members.add(user.id);
    this.gmail.seed(user.id, input);
    this.drive.seed(user.primaryEmail, input);
    return user;
  }

  /**
   * An active user with two OAuth grants, one app password, one or two groups, a personal
   * recovery email and phone, ten backup codes, 2-Step Verification on, a help desk
   * admin role, Gmail forwarding to the personal address (and a filter forwarding there),
   * IMAP and POP on, and a Drive file with an anyone-with-the-link permission beside a
   * private one, and an Android phone that syncs the account: every door a leaver leaves open.
   */
  autoProvision(email: string): SandboxUser {
    const domain = email.split('@')[1] ?? 'example.com';
    const groups = [`all-staff@${domain}`];
    if (this.users.size % 2 === 0) groups.push(`engineering@${domain}`);
    const local = email.split('@')[0] ?? 'user';
    const personal = `${local}.personal@gmail.example`;
    this.devices.seed(email);
    return this.createUser({
      primaryEmail: email,
      oauthGrants: 2,
      appPasswords: 1,
      groups,
      recoveryEmail: personal,
      recoveryPhone: `+1555${String(randomInt(0, 10_000_000)).padStart(7, '0')}`,
      backupCodes: 10,
      twoStep: true,
      adminRoles: 1,
      forwardTo: personal,
      forwardingFilters: 1,
      imap: true,
      pop: true,
      files: 1,
      publicFiles: 1,
    });
  }

  assignRole(user: SandboxUser, roleId: string): void {
    user.roleAssignments.push({ roleAssignmentId: String(9_000_000_000 + this.nextNumber()), roleId, scopeType: 'CUSTOMER' });
  }

  findRoleAssignment(roleAssignmentId: string): { user: SandboxUser; index: number } | undefined {
    for (const user of this.users.values()) {
      const index = user.roleAssignments.findIndex((a) => a.roleAssignmentId === roleAssignmentId);
      if (index >= 0) return { user, index };
    }
    return undefined;
  }

  groupFor(email: string): SandboxGroup {
    const existing = this.findGroup(email);
    if (existing) return existing;
    const group: SandboxGroup = {
      id: `0${this.nextNumber().toString(36).padStart(14, 'g')}`,
      email,
      name: email.split('@')[0] ?? email,
      members: new Set(),
    };
    this.groups.set(group.id, group);
    return group;
  }

  deleteUser(user: SandboxUser): void {
    this.users.delete(user.id);
    this.deletedEmails.add(user.primaryEmail.toLowerCase());
    this.gmail.byUser.delete(user.id);
    this.drive.deleteOwner(user.primaryEmail);
    for (const group of this.groups.values()) group.members.delete(user.id);
  }

  groupsOf(userId: string): SandboxGroup[] {
    return [...this.groups.values()].filter((g) => g.members.has(userId));
  }

  /** One transfers.get: the transfer moves on, and finishes after `pollsToComplete` reads. */
  advance(transfer: SandboxTransfer): void {
    if (transfer.status === 'completed' || transfer.status === 'failed') return;
    transfer.polls += 1;
    transfer.status = transfer.polls >= this.transferBehaviour.pollsToComplete ? this.transferBehaviour.outcome : 'inProgress';
    // A completed Drive transfer moves the files, permissions and links included, as Google's does.
    const from = this.users.get(transfer.oldOwnerUserId);
    const to = this.users.get(transfer.newOwnerUserId);
    if (transfer.status === 'completed' && transfer.applicationIds.includes(DRIVE_APP.id) && from && to) {
      this.drive.transferOwnership(from.primaryEmail, to.primaryEmail);
    }
  }

  newTransferId(): string {
    return `AKrEtIbF${String(this.nextNumber()).padStart(10, '0')}`;
  }
}

function digest(password: string): string {
  return createHash('sha256').update(password).digest('hex');
}

function isSuperAdmin(user: SandboxUser): boolean {
  return user.roleAssignments.some((a) => a.roleId === SUPER_ADMIN_ROLE_ID);
}

function newBackupCodes(count: number): string[] {
  return Array.from({ length: count }, () => String(randomInt(0, 100_000_000)).padStart(8, '0'));
}

// --- wire format ---------------------------------------------------------------------

function googleError(res: Response, code: number, message: string, reason: string, status?: string): void {
  res.status(code).json({
    error: { code, message, errors: [{ message, domain: 'global', reason }], ...(status ? { status } : {}) },
  });
}

const notFound = (res: Response, what: string) => googleError(res, 404, `Resource Not Found: ${what}`, 'notFound');
const invalid = (res: Response, message = 'Invalid Input') => googleError(res, 400, message, 'invalid', 'INVALID_ARGUMENT');

function userJson(user: SandboxUser): Record<string, unknown> {
  return {
    kind: 'admin#directory#user',
    id: user.id,
    etag: `"${user.id}/${user.suspended ? 's' : 'a'}"`,
    primaryEmail: user.primaryEmail,
    name: { givenName: user.primaryEmail.split('@')[0], familyName: 'Sandbox', fullName: user.primaryEmail.split('@')[0] },
    isAdmin: isSuperAdmin(user),
    changePasswordAtNextLogin: user.changePasswordAtNextLogin,
    isDelegatedAdmin: user.roleAssignments.some((a) => a.roleId !== SUPER_ADMIN_ROLE_ID),
    isEnrolledIn2Sv: user.enrolledIn2Sv,
    isEnforcedIn2Sv: false,
    suspended: user.suspended,
    ...(user.suspensionReason ? { suspensionReason: user.suspensionReason } : {}),
    creationTime: user.creationTime,
    ...(user.recoveryEmail ? { recoveryEmail: user.recoveryEmail } : {}),
    ...(user.recoveryPhone ? { recoveryPhone: user.recoveryPhone } : {}),
    customerId: 'C0sandbox',
    orgUnitPath: '/',
    emails: [{ address: user.primaryEmail, primary: true }],
  };
}

function transferJson(t: SandboxTransfer): Record<string, unknown> {
  const appStatus = t.status === 'new' ? 'pending' : t.status;
  return {
    kind: 'admin#datatransfer#DataTransfer',
    etag: `"${t.id}/${t.status}"`,
    id: t.id,
    oldOwnerUserId: t.oldOwnerUserId,
    newOwnerUserId: t.newOwnerUserId,
    overallTransferStatusCode: t.status,
    requestTime: t.requestTime,
    applicationDataTransfers: t.applicationIds.map((applicationId) => ({
      applicationId,
      applicationTransferParams: t.params[applicationId] ?? [],
      applicationTransferStatus: appStatus,
    })),
  };
}

/** Lists without items omit the array, as Google does: clients must cope. */
function list(kind: string, field: string, items: unknown[], extra: Record<string, unknown> = {}) {
  return { kind, etag: '"sandbox"', ...(items.length > 0 ? { [field]: items } : {}), ...extra };
}

const googleStyle: SandboxStyle = {
  rateLimited(res, retryAfterMs) {
    // Directory's quota answer is a 403. Google often sends no Retry-After; the sandbox
    // sends one so tests can check it is honoured (the adapter has a default without it).
    res.setHeader('Retry-After', String(Math.ceil(retryAfterMs / 1000)));
    googleError(res, 403, 'Rate Limit Exceeded', 'rateLimitExceeded', 'PERMISSION_DENIED');
  },
  serverError(res) {
    googleError(res, 503, 'The service is currently unavailable.', 'backendError', 'UNAVAILABLE');
  },
  unauthorized(res) {
    res.setHeader('WWW-Authenticate', 'Bearer realm="https://accounts.google.com/", error="invalid_token"');
    res.status(401).json({
      error: {
        code: 401,
        message: 'Request had invalid authentication credentials. Expected OAuth 2 access token.',
        errors: [
          { message: 'Invalid Credentials', domain: 'global', reason: 'authError', location: 'Authorization', locationType: 'header' },
        ],
        status: 'UNAUTHENTICATED',
      },
    });
  },
  authorized(req) {
    return req.headers.authorization === `Bearer ${SANDBOX_ACCESS_TOKEN}`;
  },
};

function param(req: Request, name: string): string {
  const value = req.params[name];
  return typeof value === 'string' ? value : '';
}

function query(req: Request, name: string): string | undefined {
  const value = req.query[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function pageOf<T>(items: T[], req: Request, defaultSize: number): { page: T[]; nextPageToken?: string } {
  const size = Math.max(1, Math.min(Number(query(req, 'maxResults') ?? defaultSize) || defaultSize, 500));
  const start = Number(query(req, 'pageToken') ?? 0) || 0;
  const page = items.slice(start, start + size);
  return start + size < items.length ? { page, nextPageToken: String(start + size) } : { page };
}

function routes(state: GoogleWorkspaceState) {
  return (app: express.Express, control: SandboxControl) => {
    const D = '/admin/directory/v1';
    const T = '/admin/datatransfer/v1';

    /** A user for a path key; autoProvision creates one for an unknown (never deleted) email. */
    const userFor = (key: string): SandboxUser | undefined => {
      const found = state.findUser(key);
      if (found) return found;
      if (control.autoProvision && key.includes('@') && !state.deletedEmails.has(key.toLowerCase())) {
        return state.autoProvision(key);
      }
      return undefined;
    };
    const withUser = (req: Request, res: Response): SandboxUser | undefined => {
      const user = userFor(param(req, 'userKey'));
      if (!user) notFound(res, 'userKey');
      return user;
    };

    app.get(`${D}/users`, (req, res) => {
      if (!query(req, 'customer') && !query(req, 'domain')) return googleError(res, 400, 'Bad Request', 'badRequest');
      const { page, nextPageToken } = pageOf([...state.users.values()].map(userJson), req, 100);
      res.json(list('admin#directory#users', 'users', page, nextPageToken ? { nextPageToken } : {}));
    });

    app.get(`${D}/users/:userKey`, (req, res) => {
      const user = withUser(req, res);
      if (user) res.json(userJson(user));
    });

    app.put(`${D}/users/:userKey`, (req, res) => {
      const user = withUser(req, res);
      if (!user) return;
      const body = (req.body ?? {}) as Record<string, unknown>;
      if ('suspended' in body && typeof body.suspended !== 'boolean') return invalid(res, 'Invalid Input: suspended');
      for (const field of ['recoveryEmail', 'recoveryPhone'] as const) {
        if (field in body && typeof body[field] !== 'string') return invalid(res, `Invalid Input: ${field}`);
      }
      // Google wants E.164 for a recovery phone; an empty string clears it.
      if (typeof body.recoveryPhone === 'string' && body.recoveryPhone !== '' && !/^\+[1-9]\d{6,14}$/.test(body.recoveryPhone)) {
        return invalid(res, 'Invalid Input: recoveryPhone');
      }
      if ('changePasswordAtNextLogin' in body && typeof body.changePasswordAtNextLogin !== 'boolean') {
        return invalid(res, 'Invalid Input: changePasswordAtNextLogin');
      }
      // Plain text when no hashFunction is given; Google wants 8 to 100 characters.
      if ('password' in body && (typeof body.password !== 'string' || body.password.length < 8 || body.password.length > 100)) {
        return invalid(res, 'Invalid Password');
      }
      if ('hashFunction' in body && !['MD5', 'SHA-1', 'crypt'].includes(String(body.hashFunction))) {
        return invalid(res, 'Invalid Input: hashFunction');
      }
      if (control.lie()) return void res.json(userJson(user));
      if (typeof body.password === 'string') user.passwordDigest = digest(body.password);
      if (typeof body.changePasswordAtNextLogin === 'boolean') user.changePasswordAtNextLogin = body.changePasswordAtNextLogin;
      if (typeof body.suspended === 'boolean') {
        user.suspended = body.suspended;
        user.suspensionReason = body.suspended ? 'ADMIN' : null;
      }
      if (typeof body.recoveryEmail === 'string') user.recoveryEmail = body.recoveryEmail;
      if (typeof body.recoveryPhone === 'string') user.recoveryPhone = body.recoveryPhone;
      control.countWrite('users.update', user.id);
      res.json(userJson(user));
    });

    app.delete(`${D}/users/:userKey`, (req, res) => {
      const user = state.findUser(param(req, 'userKey'));
      if (!user) return notFound(res, 'userKey');
      if (control.lie()) return void res.status(204).end();
      state.deleteUser(user);
      control.countWrite('users.delete', user.id);
      res.status(204).end();
    });

    app.post(`${D}/users/:userKey/signOut`, (req, res) => {
      const user = withUser(req, res);
      if (!user) return;
      if (control.lie()) return void res.status(204).end();
      user.signOuts.push(Date.now());
      control.countWrite('users.signOut', user.id);
      res.status(204).end();
    });

    app.get(`${D}/users/:userKey/tokens`, (req, res) => {
      const user = withUser(req, res);
      if (!user) return;
      const items = user.grants.map((g) => ({
        kind: 'admin#directory#token',
        etag: `"${g.clientId}"`,
        clientId: g.clientId,
        displayText: g.displayText,
        anonymous: false,
        nativeApp: false,
        scopes: g.scopes,
        userKey: user.id,
      }));
      res.json(list('admin#directory#tokenList', 'items', items));
    });

    app.delete(`${D}/users/:userKey/tokens/:clientId`, (req, res) => {
      const user = withUser(req, res);
      if (!user) return;
      const index = user.grants.findIndex((g) => g.clientId === param(req, 'clientId'));
      if (index < 0) return notFound(res, 'clientId');
      if (control.lie()) return void res.status(204).end();
      user.grants.splice(index, 1);
      control.countWrite('tokens.delete', user.id);
      res.status(204).end();
    });

    app.get(`${D}/users/:userKey/asps`, (req, res) => {
      const user = withUser(req, res);
      if (!user) return;
      const items = user.asps.map((a) => ({
        kind: 'admin#directory#asp',
        etag: `"${a.codeId}"`,
        codeId: a.codeId,
        name: a.name,
        creationTime: a.creationTime,
        lastTimeUsed: '0',
        userKey: user.id,
      }));
      res.json(list('admin#directory#aspList', 'items', items));
    });

    app.delete(`${D}/users/:userKey/asps/:codeId`, (req, res) => {
      const user = withUser(req, res);
      if (!user) return;
      const codeId = Number(param(req, 'codeId'));
      if (!Number.isInteger(codeId)) return invalid(res, 'Invalid Input: codeId');
      const index = user.asps.findIndex((a) => a.codeId === codeId);
      if (index < 0) return notFound(res, 'codeId');
      if (control.lie()) return void res.status(204).end();
      user.asps.splice(index, 1);
      control.countWrite('asps.delete', user.id);
      res.status(204).end();
    });

    app.get(`${D}/users/:userKey/verificationCodes`, (req, res) => {
      const user = withUser(req, res);
      if (!user) return;
      const items = user.backupCodes.map((verificationCode) => ({
        kind: 'admin#directory#verificationCode',
        etag: `"${user.id}/code"`,
        userId: user.id,
        verificationCode,
      }));
      res.json(list('admin#directory#verificationCodesList', 'items', items));
    });

    app.post(`${D}/users/:userKey/verificationCodes/invalidate`, (req, res) => {
      const user = withUser(req, res);
      if (!user) return;
      if (user.suspended) return invalid(res);
      if (control.lie()) return void res.status(204).end();
      user.backupCodes = [];
      control.countWrite('verificationCodes.invalidate', user.id);
      res.status(204).end();
    });

    app.post(`${D}/users/:userKey/twoStepVerification/turnOff`, (req, res) => {
      const user = withUser(req, res);
      if (!user) return;
      if (control.lie()) return void res.status(204).end();
      user.enrolledIn2Sv = false;
      control.countWrite('twoStepVerification.turnOff', user.id);
      res.status(204).end();
    });

    app.post(`${D}/users/:userKey/makeAdmin`, (req, res) => {
      const user = withUser(req, res);
      if (!user) return;
      const status = ((req.body ?? {}) as Record<string, unknown>).status;
      if (typeof status !== 'boolean') return invalid(res, 'Invalid Input: status');
      if (control.lie()) return void res.status(204).end();
      if (status && !isSuperAdmin(user)) state.assignRole(user, SUPER_ADMIN_ROLE_ID);
      if (!status) user.roleAssignments = user.roleAssignments.filter((a) => a.roleId !== SUPER_ADMIN_ROLE_ID);
      control.countWrite('users.makeAdmin', user.id);
      res.status(204).end();
    });

    app.get(`${D}/customer/:customer/roleassignments`, (req, res) => {
      const userKey = query(req, 'userKey');
      let assignments: Array<SandboxRoleAssignment & { assignedTo: string }> = [];
      if (userKey) {
        const user = userFor(userKey);
        if (!user) return notFound(res, 'userKey');
        assignments = user.roleAssignments.map((a) => ({ ...a, assignedTo: user.id }));
      } else {
        for (const user of state.users.values()) assignments.push(...user.roleAssignments.map((a) => ({ ...a, assignedTo: user.id })));
      }
      const { page, nextPageToken } = pageOf(
        assignments.map((a) => ({
          kind: 'admin#directory#roleAssignment',
          etag: `"${a.roleAssignmentId}"`,
          roleAssignmentId: a.roleAssignmentId,
          roleId: a.roleId,
          assignedTo: a.assignedTo,
          assigneeType: 'user',
          scopeType: a.scopeType,
        })),
        req,
        100,
      );
      res.json(list('admin#directory#roleAssignments', 'items', page, nextPageToken ? { nextPageToken } : {}));
    });

    app.delete(`${D}/customer/:customer/roleassignments/:roleAssignmentId`, (req, res) => {
      const found = state.findRoleAssignment(param(req, 'roleAssignmentId'));
      if (!found) return notFound(res, 'roleAssignmentId');
      if (control.lie()) return void res.status(204).end();
      found.user.roleAssignments.splice(found.index, 1);
      control.countWrite('roleAssignments.delete', found.user.id);
      res.status(204).end();
    });

    app.get(`${D}/groups`, (req, res) => {
      const userKey = query(req, 'userKey');
      if (!userKey && !query(req, 'customer') && !query(req, 'domain')) return googleError(res, 400, 'Bad Request', 'badRequest');
      let groups = [...state.groups.values()];
      if (userKey) {
        const user = userFor(userKey);
        if (!user) return notFound(res, 'userKey');
        groups = state.groupsOf(user.id);
      }
      const { page, nextPageToken } = pageOf(
        groups.map((g) => ({
          kind: 'admin#directory#group',
          id: g.id,
          etag: `"${g.id}"`,
          email: g.email,
          name: g.name,
          directMembersCount: String(g.members.size),
          adminCreated: true,
        })),
        req,
        200,
      );
      res.json(list('admin#directory#groups', 'groups', page, nextPageToken ? { nextPageToken } : {}));
    });

    app.delete(`${D}/groups/:groupKey/members/:memberKey`, (req, res) => {
      const group = state.findGroup(param(req, 'groupKey'));
      if (!group) return notFound(res, 'groupKey');
      const user = state.findUser(param(req, 'memberKey'));
      if (!user || !group.members.has(user.id)) return notFound(res, 'memberKey');
      if (control.lie()) return void res.status(204).end();
      group.members.delete(user.id);
      control.countWrite('members.delete', user.id);
      res.status(204).end();
    });

    app.get(`${T}/applications`, (_req, res) => {
      res.json(
        list(
          'admin#datatransfer#applicationsList',
          'applications',
          APPLICATIONS.map((a) => ({ kind: 'admin#datatransfer#ApplicationResource', id: a.id, name: a.name, transferParams: a.params })),
        ),
      );
    });

    app.post(`${T}/transfers`, (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const oldOwner = typeof body.oldOwnerUserId === 'string' ? body.oldOwnerUserId : '';
      const newOwner = typeof body.newOwnerUserId === 'string' ? body.newOwnerUserId : '';
      // The API takes numeric user ids only; an email here is a 400, as at Google.
      if (!/^\d+$/.test(oldOwner) || !state.users.has(oldOwner)) return invalid(res, 'Invalid Input: oldOwnerUserId');
      if (!/^\d+$/.test(newOwner) || !state.users.has(newOwner)) return invalid(res, 'Invalid Input: newOwnerUserId');
      const apps = Array.isArray(body.applicationDataTransfers) ? (body.applicationDataTransfers as unknown[]) : [];
      const params: SandboxTransfer['params'] = {};
      const applicationIds: string[] = [];
      for (const app of apps) {
        const entry = (app ?? {}) as Record<string, unknown>;
        // Google's ids are int64: a JSON number is the same id; any other value matches no application.
        const id =
          typeof entry.applicationId === 'string'
            ? entry.applicationId
            : typeof entry.applicationId === 'number'
              ? String(entry.applicationId)
              : '';
        if (!APPLICATIONS.some((a) => a.id === id)) return invalid(res, 'Invalid Input: applicationId');
        applicationIds.push(id);
        params[id] = Array.isArray(entry.applicationTransferParams)
          ? (entry.applicationTransferParams as Array<{ key: string; value: string[] }>)
          : [];
      }
      if (applicationIds.length === 0) return invalid(res, 'Invalid Input: applicationDataTransfers');
      const transfer: SandboxTransfer = {
        id: state.newTransferId(),
        oldOwnerUserId: oldOwner,
        newOwnerUserId: newOwner,
        applicationIds,
        params,
        requestTime: new Date().toISOString(),
        status: 'new',
        polls: 0,
      };
      // A lie: the answer looks like a started transfer, but none was stored.
      if (control.lie()) return void res.json(transferJson(transfer));
      state.transfers.set(transfer.id, transfer);
      control.countWrite('transfers.insert', oldOwner);
      res.json(transferJson(transfer));
    });

    app.get(`${T}/transfers/:dataTransferId`, (req, res) => {
      const transfer = state.transfers.get(param(req, 'dataTransferId'));
      if (!transfer) return notFound(res, 'dataTransferId');
      state.advance(transfer);
      res.json(transferJson(transfer));
    });

    app.get(`${T}/transfers`, (req, res) => {
      const oldOwner = query(req, 'oldOwnerUserId');
      const newOwner = query(req, 'newOwnerUserId');
      const status = query(req, 'status');
      const matching = [...state.transfers.values()].filter(
        (t) =>
          (!oldOwner || t.oldOwnerUserId === oldOwner) && (!newOwner || t.newOwnerUserId === newOwner) && (!status || t.status === status),
      );
      const { page, nextPageToken } = pageOf(matching.map(transferJson), req, 100);
      res.json(list('admin#datatransfer#dataTransfersList', 'dataTransfers', page, nextPageToken ? { nextPageToken } : {}));
    });

    registerGmailRoutes(app, control, { store: state.gmail, userFor, googleError });
    registerDriveRoutes(app, control, { store: state.drive, googleError });
    state.devices.routes(app, control, { googleError, list });

    app.use((_req: Request, res: Response) => googleError(res, 404, 'Not Found', 'notFound'));
    // Malformed JSON bodies: Google's 400, not express's HTML page.
    app.use((_err: unknown, _req: Request, res: Response, _next: express.NextFunction) => {
      googleError(res, 400, 'Invalid JSON payload received.', 'parseError', 'INVALID_ARGUMENT');
    });
  };
}

function controlRoutes(state: GoogleWorkspaceState) {
  return (router: express.Router) => {
    router.post('/users', (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (typeof body.primaryEmail !== 'string' || !body.primaryEmail.includes('@')) {
        return void res.status(400).json({ error: 'primaryEmail required' });
      }
      if (state.findUser(body.primaryEmail)) return void res.status(409).json({ error: 'user exists' });
      const user = state.createUser({
        primaryEmail: body.primaryEmail,
        suspended: body.suspended === true,
        oauthGrants: typeof body.oauthGrants === 'number' ? body.oauthGrants : 0,
        appPasswords: typeof body.appPasswords === 'number' ? body.appPasswords : 0,
        groups: Array.isArray(body.groups) ? body.groups.filter((g): g is string => typeof g === 'string') : [],
        ...(typeof body.recoveryEmail === 'string' ? { recoveryEmail: body.recoveryEmail } : {}),
        ...(typeof body.recoveryPhone === 'string' ? { recoveryPhone: body.recoveryPhone } : {}),
        backupCodes: typeof body.backupCodes === 'number' ? Math.max(0, Math.min(Math.floor(body.backupCodes), 10)) : 0,
        twoStep: body.twoStep === true,
        adminRoles: typeof body.adminRoles === 'number' ? Math.max(0, Math.min(Math.floor(body.adminRoles), 10)) : 0,
        superAdmin: body.superAdmin === true,
        ...(typeof body.forwardTo === 'string' && body.forwardTo.includes('@') ? { forwardTo: body.forwardTo } : {}),
        forwardingFilters: boundedCount(body.forwardingFilters, 10),
        imap: body.imap === true,
        pop: body.pop === true,
        // Many files, so that paging through a leaver's Drive is exercised.
        files: boundedCount(body.files, 5000),
        publicFiles: boundedCount(body.publicFiles, 5000),
        domainFiles: boundedCount(body.domainFiles, 5000),
      });
      res.status(201).json(userJson(user));
    });
    router.get('/users/:key', (req, res) => {
      const user = state.findUser(param(req, 'key'));
      if (!user) return void res.status(404).json({ error: 'no such user' });
      res.json({
        ...userJson(user),
        oauthClientIds: user.grants.map((g) => g.clientId),
        appPasswordIds: user.asps.map((a) => a.codeId),
        groups: state.groupsOf(user.id).map((g) => g.email),
        signOuts: user.signOuts.length,
        backupCodes: user.backupCodes.length,
        roleIds: user.roleAssignments.map((a) => a.roleId),
        gmail: state.gmail.byUser.get(user.id) ?? null,
        driveFiles: state.drive.ownedBy(user.primaryEmail).map((f) => ({
          id: f.id,
          visibility: visibilityOf(f),
          permissions: f.permissions.map((p) => `${p.type}:${p.role}`),
        })),
      });
    });
    router.post('/users/:key/forwarding', (req, res) => {
      const user = state.findUser(param(req, 'key'));
      const email = (req.body as { email?: unknown } | undefined)?.email;
      if (!user) return void res.status(404).json({ error: 'no such user' });
      if (typeof email !== 'string' || !email.includes('@') || email.length > 200)
        return void res.status(400).json({ error: 'email required' });
      state.gmail.addForwarding(state.gmail.byUser.get(user.id) ?? state.gmail.seed(user.id, {}), email);
      res.status(204).end();
    });
    router.post('/users/:key/files', (req, res) => {
      const user = state.findUser(param(req, 'key'));
      const reach = (req.body as { reach?: unknown } | undefined)?.reach ?? 'anyone';
      if (!user) return void res.status(404).json({ error: 'no such user' });
      if (reach !== 'anyone' && reach !== 'domain' && reach !== 'limited')
        return void res.status(400).json({ error: 'reach: anyone, domain or limited' });
      const file = state.drive.addFile(user.primaryEmail, reach, 'Added by the sandbox');
      res.status(201).json({ id: file.id, visibility: visibilityOf(file) });
    });
    router.post('/users/:key/unsuspend', (req, res) => {
      const user = state.findUser(param(req, 'key'));
      if (!user) return void res.status(404).json({ error: 'no such user' });
      user.suspended = false;
      user.suspensionReason = null;
      res.json(userJson(user));
    });
    router.post('/users/:key/groups', (req, res) => {
      const user = state.findUser(param(req, 'key'));
      const email = (req.body as { email?: unknown } | undefined)?.email;
      if (!user) return void res.status(404).json({ error: 'no such user' });
      if (typeof email !== 'string' || !email.includes('@') || email.length > 200)
        return void res.status(400).json({ error: 'email required' });
      state.groupFor(email).members.add(user.id);
      res.status(204).end();
    });
    router.post('/transfers', (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (typeof body.pollsToComplete === 'number' && body.pollsToComplete >= 0) {
        state.transferBehaviour.pollsToComplete = Math.floor(body.pollsToComplete);
      }
      if (body.outcome === 'completed' || body.outcome === 'failed') state.transferBehaviour.outcome = body.outcome;
      res.json(state.transferBehaviour);
    });
    router.get('/transfers', (_req, res) => {
      res.json([...state.transfers.values()].map(transferJson));
    });
    state.devices.controlRoutes(router, (key) => state.findUser(key)?.primaryEmail);
  };
}

/** A count from a control body: a whole number from 0 to `max`, else 0. */
function boundedCount(value: unknown, max: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? Math.max(0, Math.min(Math.floor(value), max)) : 0;
}

export interface GoogleSandbox extends RunningSandbox {
  /** The emulated Workspace, for in-process tests. */
  state: GoogleWorkspaceState;
}

export async function startGoogleSandbox(options: GoogleSandboxOptions = {}): Promise<GoogleSandbox> {
  const state = new GoogleWorkspaceState(options);
  const running = await listenSandbox(createSandboxApp(googleStyle, options, routes(state), controlRoutes(state)));
  return { ...running, state };
}
