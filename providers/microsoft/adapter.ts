/**
 * The Microsoft Entra / 365 adapter: finds a subject's Entra user and runs each action as
 * read, act, read back on Microsoft Graph v1.0 (facts in shared PROVIDERS.md).
 */
import type {
  AccountRef,
  ActionContext,
  ActionHandler,
  Evidence,
  ExecuteResult,
  Member,
  Provider,
  ProviderFactoryContext,
} from '../contract.ts';
import { PermanentError, VerificationError } from '../contract.ts';
import { alreadyAbsent, type AbsenceSeenBy } from '../absent.ts';
import type { JsonObject, Organization, Subject } from '../../src/domain/types.ts';
import { requestTimeoutOf, scopeOf, tokenUrlOf, type MicrosoftConfig } from './config.ts';
import { createGraphClient, GraphApi, odataString, seg } from './graph-client.ts';
import { graphTokens } from './token.ts';
import { removeMfa } from './auth-methods.ts';
import { stopMailForwarding } from './mail-rules.ts';
import { removeAdminRoles } from './admin-roles.ts';
import { revokeSessions } from './sessions.ts';
import { resetPassword } from './password.ts';
import { driveIdOf } from './drive.ts';
import { revokePublicLinks } from './public-links.ts';
import { wipeDevices } from './devices.ts';
import { listEntraGuests } from './guests.ts';

interface GraphUser {
  id: string;
  userPrincipalName?: string;
  mail?: string | null;
  accountEnabled?: boolean;
}

interface DirectoryObject {
  '@odata.type'?: string;
  id: string;
  displayName?: string | null;
  groupTypes?: string[];
}

interface Identity {
  id?: string;
  email?: string;
  displayName?: string;
}

interface DrivePermission {
  id: string;
  roles?: string[];
  grantedTo?: { user?: Identity };
  grantedToV2?: { user?: Identity; siteUser?: Identity };
  invitation?: { email?: string };
}

const GROUP_TYPE = '#microsoft.graph.group';
const DYNAMIC = 'DynamicMembership';
/** Roles that let the new owner read, change and move the departing user's files. */
const WRITE_ROLES = new Set(['write', 'owner']);

/** Identifiers worth a direct lookup: Graph addresses a user by object id or UPN, and a UPN has an @. */
function candidates(values: Array<string | undefined>): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const value of values) {
    const trimmed = value?.trim();
    if (!trimmed?.includes('@')) continue;
    const key = trimmed.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(trimmed);
  }
  return out;
}

function accountRef(user: GraphUser): AccountRef {
  return { id: user.id, userPrincipalName: user.userPrincipalName ?? null };
}

function isGroup(item: DirectoryObject): boolean {
  return item['@odata.type'] === GROUP_TYPE;
}

function isDynamic(group: DirectoryObject): boolean {
  return (group.groupTypes ?? []).includes(DYNAMIC);
}

function groupEvidence(group: DirectoryObject): JsonObject {
  return { id: group.id, displayName: group.displayName ?? null };
}

function grantsWrite(permission: DrivePermission, owner: { id: string; emails: string[] }): boolean {
  if (!(permission.roles ?? []).some((role) => WRITE_ROLES.has(role))) return false;
  const identities = [permission.grantedTo?.user, permission.grantedToV2?.user, permission.grantedToV2?.siteUser];
  if (identities.some((identity) => identity?.id === owner.id)) return true;
  const emails = [...identities.map((identity) => identity?.email), permission.invitation?.email]
    .filter((email): email is string => typeof email === 'string')
    .map((email) => email.toLowerCase());
  return owner.emails.some((email) => emails.includes(email.toLowerCase()));
}

export class MicrosoftProvider implements Provider {
  readonly kind = 'microsoft';
  readonly name: string;
  readonly actions: Provider['actions'];
  private readonly graph: GraphApi;

  constructor(
    private readonly config: MicrosoftConfig,
    ctx: ProviderFactoryContext,
  ) {
    this.name = ctx.name;
    const tokens = graphTokens({
      tokenUrl: tokenUrlOf(config),
      clientId: config.clientId,
      clientSecret: config.clientSecret,
      scope: scopeOf(config),
      timeoutMs: requestTimeoutOf(config),
    });
    this.graph = new GraphApi(
      createGraphClient(config.baseUrl, tokens),
      tokens,
      { baseUrl: config.baseUrl, requestTimeoutMs: requestTimeoutOf(config) },
      Date.now,
      ctx.throttle,
    );
    this.actions = {
      revoke_sessions: revokeSessions(this.graph),
      disable_account: this.disableAccount(),
      remove_groups: this.removeGroups(),
      transfer_files: this.transferFiles(),
      delete_account: this.deleteAccount(),
      remove_mfa: removeMfa(this.graph),
      stop_mail_forwarding: stopMailForwarding(this.graph),
      remove_admin_roles: removeAdminRoles(this.graph),
      reset_password: resetPassword(this.graph),
      revoke_public_links: revokePublicLinks(this.graph),
      wipe_devices: wipeDevices(this.graph),
    };
  }

  /** The client's B2B guests, by email domain (guests.ts); `tenants.entra` is not used to list them. */
  listMembers(organization: Organization, ctx: ActionContext): AsyncIterable<Member> {
    return listEntraGuests(this.graph, organization, ctx);
  }

  async validate(ctx: { signal: AbortSignal }): Promise<void> {
    // The token request proves the secret; the read proves User.Read.All (or wider) was consented.
    await this.graph.call({ method: 'GET', path: '/users', query: { $top: '1', $select: 'id' }, signal: ctx.signal });
  }

  async resolve(subject: Subject, ctx: ActionContext): Promise<AccountRef | null> {
    const user = await this.findUser([subject.userName, ...subject.emails], ctx.signal);
    return user ? accountRef(user) : null;
  }

  /**
   * A direct GET by UPN for each identifier, then `mail eq` for the emails: a user's mail
   * can differ from the UPN (renamed domains, aliases).
   */
  private async findUser(identifiers: Array<string | undefined>, signal: AbortSignal): Promise<GraphUser | null> {
    const keys = candidates(identifiers);
    for (const key of keys) {
      const user = await this.graph.call<GraphUser>({
        method: 'GET',
        path: `/users/${seg(key)}`,
        query: { $select: 'id,userPrincipalName,mail' },
        signal,
        notFoundIsNull: true,
      });
      if (user) return user;
    }
    for (const key of keys) {
      const page = await this.graph.call<{ value?: GraphUser[] }>({
        method: 'GET',
        path: '/users',
        query: { $filter: `mail eq ${odataString(key)}`, $select: 'id,userPrincipalName,mail' },
        signal,
      });
      const found = page?.value ?? [];
      if (found.length > 1) {
        // Two users share the address: acting on either could offboard the wrong person.
        throw new PermanentError(`${found.length} Entra users have mail ${key}; resolve the subject by UPN`);
      }
      if (found[0]) return found[0];
    }
    return null;
  }

  private async readUser(id: string, select: string, signal: AbortSignal): Promise<GraphUser> {
    const user = await this.graph.call<GraphUser>({
      method: 'GET',
      path: `/users/${seg(id)}`,
      query: { $select: select },
      signal,
    });
    if (!user) throw new PermanentError(`Microsoft Graph GET /users/${id} answered without a body`);
    return user;
  }

  /**
   * A user already gone: the deleted items say when it was soft-deleted (most likely by this
   * task's own earlier attempt), or that it is not there (purged, or deleted long ago).
   */
  private async absent(id: string, ctx: ActionContext, seenBy: AbsenceSeenBy): Promise<ExecuteResult> {
    const item = await this.graph.call<{ deletedDateTime?: string | null }>({
      method: 'GET',
      path: `/directory/deletedItems/${seg(id)}`,
      signal: ctx.signal,
      notFoundIsNull: true,
    });
    return {
      evidence: {
        ...alreadyAbsent(id, ctx, seenBy),
        deletedItems: item ? { found: true, deletedDateTime: item.deletedDateTime ?? null } : { found: false },
      },
    };
  }

  /** GET /users/{id}; null on 404 (deleted, or never there). */
  private findById(id: string, signal: AbortSignal): Promise<GraphUser | null> {
    return this.graph.call<GraphUser>({ method: 'GET', path: `/users/${seg(id)}`, query: { $select: 'id' }, signal, notFoundIsNull: true });
  }

  private disableAccount(): ActionHandler {
    return {
      execute: async (account, ctx): Promise<ExecuteResult> => {
        const before = await this.readUser(account.id, 'accountEnabled', ctx.signal);
        if (before.accountEnabled === false) return { evidence: { accountEnabled: false, alreadyDone: true } };
        await this.graph.call({
          method: 'PATCH',
          path: `/users/${seg(account.id)}`,
          body: { accountEnabled: false },
          signal: ctx.signal,
        });
        return {
          evidence: { accountEnabledBefore: before.accountEnabled ?? null, patched: { accountEnabled: false }, alreadyDone: false },
        };
      },
      verify: async (account, ctx): Promise<Evidence> => {
        const user = await this.readUser(account.id, 'accountEnabled', ctx.signal);
        if (user.accountEnabled !== false) {
          throw new VerificationError('accountEnabled is not false', { accountEnabled: user.accountEnabled ?? null });
        }
        return { accountEnabled: false };
      },
    };
  }

  /** Direct group memberships of the user, split into those we can remove and dynamic ones. */
  private async groupsOf(userId: string, signal: AbortSignal): Promise<{ assigned: DirectoryObject[]; dynamic: DirectoryObject[] }> {
    const items = await this.graph.collect<DirectoryObject>({
      method: 'GET',
      path: `/users/${seg(userId)}/memberOf`,
      query: { $select: 'id,displayName,groupTypes' },
      signal,
    });
    // memberOf also lists directory roles and administrative units: not groups, not ours here.
    const groups = items.filter(isGroup);
    return { assigned: groups.filter((g) => !isDynamic(g)), dynamic: groups.filter(isDynamic) };
  }

  private removeGroups(): ActionHandler {
    return {
      execute: async (account, ctx): Promise<ExecuteResult> => {
        const { assigned, dynamic } = await this.groupsOf(account.id, ctx.signal);
        const removed: JsonObject[] = [];
        const alreadyGone: JsonObject[] = [];
        for (const group of assigned) {
          // `/$ref` removes the membership link. Without it, the same URL addresses the
          // member object itself and DELETE removes the USER from the directory.
          const answer = await this.graph.send({
            method: 'DELETE',
            path: `/groups/${seg(group.id)}/members/${seg(account.id)}/$ref`,
            signal: ctx.signal,
            notFoundIsNull: true,
          });
          (answer.status === 404 ? alreadyGone : removed).push(groupEvidence(group));
        }
        return {
          evidence: {
            removed,
            alreadyGone,
            // Membership of a dynamic group follows its rule; Graph refuses to edit it.
            skipped: dynamic.map((g) => ({ ...groupEvidence(g), reason: 'dynamic membership rule' })),
            alreadyDone: removed.length === 0,
          },
        };
      },
      verify: async (account, ctx): Promise<Evidence> => {
        const { assigned, dynamic } = await this.groupsOf(account.id, ctx.signal);
        if (assigned.length > 0) {
          throw new VerificationError('assigned group memberships remain', { remainingGroups: assigned.map(groupEvidence) });
        }
        return { assignedGroupsRemaining: 0, dynamicGroups: dynamic.map(groupEvidence) };
      },
    };
  }

  /** The manager from the subject, else the configured fallback owner; PermanentError when neither resolves. */
  private async newOwner(subject: Subject, signal: AbortSignal): Promise<{ id: string; email: string; emails: string[]; source: string }> {
    const tried: Array<{ source: string; ids: Array<string | undefined> }> = [];
    if (subject.manager) tried.push({ source: 'manager', ids: [subject.manager.email, subject.manager.userName] });
    if (this.config.fallbackOwner) tried.push({ source: 'fallbackOwner', ids: [this.config.fallbackOwner] });
    for (const { source, ids } of tried) {
      const user = await this.findUser(ids, signal);
      if (!user) continue;
      const emails = [user.mail, user.userPrincipalName].filter((e): e is string => typeof e === 'string' && e !== '');
      const email = emails[0];
      if (!email) continue;
      return { id: user.id, email, emails, source };
    }
    throw new PermanentError(
      tried.length === 0
        ? 'no manager for the subject and no fallbackOwner configured: nobody to give the OneDrive to'
        : `neither ${tried.map((t) => t.source).join(' nor ')} resolves to an Entra user with a mail or UPN`,
    );
  }

  private driveOf(userId: string, signal: AbortSignal): Promise<string | null> {
    return driveIdOf(this.graph, userId, signal);
  }

  private async permissionsOf(driveId: string, signal: AbortSignal): Promise<DrivePermission[]> {
    return this.graph.collect<DrivePermission>({ method: 'GET', path: `/drives/${seg(driveId)}/root/permissions`, signal });
  }

  private transferFiles(): ActionHandler {
    return {
      // Graph v1.0 cannot transfer OneDrive ownership: the new owner gets write access to the root.
      execute: async (account, ctx): Promise<ExecuteResult> => {
        const owner = await this.newOwner(ctx.subject, ctx.signal);
        const driveId = await this.driveOf(account.id, ctx.signal);
        if (!driveId) return { skipped: 'the user has no OneDrive', evidence: { drive: null } };
        const base = { driveId, grantedTo: owner.email, ownerSource: owner.source, roles: ['write'] };
        const existing = (await this.permissionsOf(driveId, ctx.signal)).find((p) => grantsWrite(p, owner));
        if (existing) return { evidence: { ...base, permissionId: existing.id, alreadyDone: true } };
        const answer = await this.graph.call<{ value?: DrivePermission[] }>({
          method: 'POST',
          path: `/drives/${seg(driveId)}/root/invite`,
          body: {
            recipients: [{ email: owner.email }],
            roles: ['write'],
            // A sign-in bound grant, with no mail sent: the manager is told by the notify step.
            requireSignIn: true,
            sendInvitation: false,
          },
          signal: ctx.signal,
        });
        return { evidence: { ...base, permissionId: answer?.value?.[0]?.id ?? null, alreadyDone: false } };
      },
      verify: async (account, ctx): Promise<Evidence> => {
        const owner = await this.newOwner(ctx.subject, ctx.signal);
        const driveId = await this.driveOf(account.id, ctx.signal);
        if (!driveId) return { drive: null };
        const permissions = await this.permissionsOf(driveId, ctx.signal);
        const grant = permissions.find((p) => grantsWrite(p, owner));
        if (!grant) {
          throw new VerificationError(`no write permission for ${owner.email} on the OneDrive root`, {
            driveId,
            owner: owner.email,
            permissions: permissions.map((p) => ({ id: p.id, roles: p.roles ?? [] })),
          });
        }
        return { driveId, grantedTo: owner.email, permissionId: grant.id, roles: grant.roles ?? [] };
      },
    };
  }

  private deleteAccount(): ActionHandler {
    return {
      // A soft delete: Entra keeps the user restorable for 30 days. Read first: after a
      // takeover or a lost answer the user is already in the deleted items, and the 404 of
      // a second DELETE would be the only trace; the 404 also covers a deletion in between.
      execute: async (account, ctx): Promise<ExecuteResult> => {
        if (!(await this.findById(account.id, ctx.signal))) return this.absent(account.id, ctx, 'read before delete');
        const answer = await this.graph.send({
          method: 'DELETE',
          path: `/users/${seg(account.id)}`,
          signal: ctx.signal,
          notFoundIsNull: true,
        });
        if (answer.status === 404) return this.absent(account.id, ctx, 'delete answered 404');
        return { evidence: { userId: account.id, deleted: true, softDelete: true, deletedByAttempt: ctx.attempt, alreadyDone: false } };
      },
      verify: async (account, ctx): Promise<Evidence> => {
        const user = await this.findById(account.id, ctx.signal);
        if (user) throw new VerificationError('the user still exists', { id: user.id, found: true });
        return { found: false, status: 404 };
      },
    };
  }
}

export function createMicrosoftProvider(config: MicrosoftConfig, ctx: ProviderFactoryContext): Provider {
  return new MicrosoftProvider(config, ctx);
}
