/**
 * The Okta Management API calls the adapter makes, on `@okta/okta-sdk-nodejs`, each mapped
 * to the engine's typed errors, and the few fields of each answer the actions read.
 */
import { PermanentError } from '../contract.ts';
import type { UpdateUserRequest } from '@okta/okta-sdk-nodejs';
import { withSignal, type OktaClient } from './client.ts';
import { httpStatus, toOktaError } from './errors.ts';

/** The part of an Okta user the adapter reads. */
export interface OktaUser {
  id: string;
  login: string;
  status: string;
  transitioningToStatus: string | null;
  /** When the password was last set (ISO 8601), null when Okta shows none. */
  passwordChanged: string | null;
}

export interface OktaFactorRef {
  id: string;
  factorType: string;
  status: string;
}

/** A role assignment: `id` is the assignment's id, which the DELETE takes. */
export interface OktaRoleRef {
  id: string;
  type: string;
  label: string;
  /** USER (assigned directly) or GROUP (held through a group membership). */
  assignmentType: string;
}

export interface OktaGroupRef {
  id: string;
  name: string;
  type: string;
}

/** Everything the actions need from Okta, each call mapped to typed errors. */
export class OktaApi {
  constructor(private readonly client: OktaClient) {}

  private async call<T>(operation: string, ctx: CallContext, fn: () => Promise<T>): Promise<T> {
    try {
      return await withSignal(ctx.signal, fn);
    } catch (error) {
      throw toOktaError(error, operation, ctx.now().getTime());
    }
  }

  /** Null when Okta answers 404: no such id or login. */
  async getUser(idOrLogin: string, ctx: CallContext): Promise<OktaUser | null> {
    try {
      const user = await withSignal(ctx.signal, () => this.client.userApi.getUser({ userId: idOrLogin }));
      return toOktaUser(user);
    } catch (error) {
      if (httpStatus(error) === 404) return null;
      throw toOktaError(error, 'getUser', ctx.now().getTime());
    }
  }

  /**
   * Every user a `search` expression finds (`GET /api/v1/users?search=…`), every page: the
   * SDK's collection follows the `Link: rel="next"` headers, each page a request of its own
   * through the throttle. Okta's search also returns DEPROVISIONED users.
   */
  searchUsers(search: string, ctx: CallContext): Promise<OktaListedUser[]> {
    return this.call('listUsers', ctx, async () => {
      const users: OktaListedUser[] = [];
      for await (const user of await this.client.userApi.listUsers({ search, limit: LIST_PAGE })) if (user) users.push(toListedUser(user));
      return users;
    });
  }

  /** Every member of a group (`GET /api/v1/groups/{id}/users`), every page. */
  groupUsers(groupId: string, ctx: CallContext): Promise<OktaListedUser[]> {
    return this.call('listGroupUsers', ctx, async () => {
      const users: OktaListedUser[] = [];
      for await (const user of await this.client.groupApi.listGroupUsers({ groupId, limit: LIST_PAGE }))
        if (user) users.push(toListedUser(user));
      return users;
    });
  }

  /** The ids of the groups named exactly `name` (`GET /api/v1/groups?search=profile.name eq "…"`). */
  groupsNamed(name: string, ctx: CallContext): Promise<string[]> {
    return this.call('listGroups', ctx, async () => {
      const ids: string[] = [];
      for await (const group of await this.client.groupApi.listGroups({ search: `profile.name eq ${quoted(name)}`, limit: LIST_PAGE })) {
        if (group?.id && group.profile?.name === name) ids.push(group.id);
      }
      return ids;
    });
  }

  async probe(ctx: CallContext): Promise<void> {
    await this.call('listUsers', ctx, async () => {
      const page = await this.client.userApi.listUsers({ limit: 1 });
      await page.next();
    });
  }

  revokeSessions(userId: string, ctx: CallContext): Promise<void> {
    return this.call('revokeUserSessions', ctx, () =>
      this.client.userApi.revokeUserSessions({ userId, oauthTokens: true, forgetDevices: true }),
    );
  }

  revokeGrants(userId: string, ctx: CallContext): Promise<void> {
    return this.call('revokeUserGrants', ctx, () => this.client.userApi.revokeUserGrants({ userId }));
  }

  listGrants(userId: string, ctx: CallContext): Promise<Array<{ id: string; clientId: string }>> {
    return this.call('listUserGrants', ctx, async () => {
      const grants = [];
      for await (const grant of await this.client.userApi.listUserGrants({ userId })) {
        if (grant && grant.status !== 'REVOKED') grants.push({ id: grant.id ?? '', clientId: grant.clientId ?? '' });
      }
      return grants;
    });
  }

  listClients(userId: string, ctx: CallContext): Promise<string[]> {
    return this.call('listUserClients', ctx, async () => {
      const clients = [];
      for await (const client of await this.client.userApi.listUserClients({ userId })) {
        if (client) clients.push(client.client_id ?? '');
      }
      return clients;
    });
  }

  suspend(userId: string, ctx: CallContext): Promise<void> {
    return this.call('suspendUser', ctx, () => this.client.userApi.suspendUser({ userId }));
  }

  deactivate(userId: string, ctx: CallContext): Promise<void> {
    return this.call('deactivateUser', ctx, () => this.client.userApi.deactivateUser({ userId, sendEmail: false }));
  }

  /** `gone` when the user no longer exists. */
  async delete(userId: string, ctx: CallContext): Promise<'deleted' | 'gone'> {
    try {
      await withSignal(ctx.signal, () => this.client.userApi.deleteUser({ userId, sendEmail: false }));
      return 'deleted';
    } catch (error) {
      if (httpStatus(error) === 404) return 'gone';
      throw toOktaError(error, 'deleteUser', ctx.now().getTime());
    }
  }

  listGroups(userId: string, ctx: CallContext): Promise<OktaGroupRef[]> {
    return this.call('listUserGroups', ctx, async () => {
      const groups = [];
      for await (const group of await this.client.userApi.listUserGroups({ userId })) {
        if (group) groups.push({ id: group.id ?? '', name: group.profile?.name ?? '', type: group.type ?? '' });
      }
      return groups;
    });
  }

  /** 404 means the group itself is gone: the membership is gone with it. */
  async removeFromGroup(groupId: string, userId: string, ctx: CallContext): Promise<void> {
    try {
      await withSignal(ctx.signal, () => this.client.groupApi.unassignUserFromGroup({ groupId, userId }));
    } catch (error) {
      if (httpStatus(error) === 404) return;
      throw toOktaError(error, 'unassignUserFromGroup', ctx.now().getTime());
    }
  }
  listFactors(userId: string, ctx: CallContext): Promise<OktaFactorRef[]> {
    return this.call('listFactors', ctx, async () => {
      const factors = [];
      for await (const factor of await this.client.userFactorApi.listFactors({ userId })) {
        if (factor) factors.push({ id: factor.id ?? '', factorType: factor.factorType ?? '', status: factor.status ?? '' });
      }
      return factors;
    });
  }

  resetFactors(userId: string, ctx: CallContext): Promise<void> {
    return this.call('resetFactors', ctx, () => this.client.userApi.resetFactors({ userId }));
  }

  listRoles(userId: string, ctx: CallContext): Promise<OktaRoleRef[]> {
    return this.call('listAssignedRolesForUser', ctx, async () => {
      const roles = [];
      for await (const role of await this.client.roleAssignmentApi.listAssignedRolesForUser({ userId })) {
        // The SDK types the answer as a union of standard and custom role shapes.
        const r = role as { id?: string; type?: string; label?: string; assignmentType?: string } | null;
        if (r) roles.push({ id: r.id ?? '', type: r.type ?? '', label: r.label ?? '', assignmentType: r.assignmentType ?? '' });
      }
      return roles;
    });
  }

  /** 404 means the assignment is already gone. */
  async unassignRole(userId: string, roleAssignmentId: string, ctx: CallContext): Promise<'removed' | 'gone'> {
    try {
      await withSignal(ctx.signal, () => this.client.roleAssignmentApi.unassignRoleFromUser({ userId, roleId: roleAssignmentId }));
      return 'removed';
    } catch (error) {
      if (httpStatus(error) === 404) return 'gone';
      throw toOktaError(error, 'unassignRoleFromUser', ctx.now().getTime());
    }
  }

  /**
   * Sets the password as an administrator (partial `POST /api/v1/users/{id}`), without the
   * old one. Errors are rebuilt from status and Okta's code only (errors.ts): the request,
   * and so the password, never reaches an error or a log.
   */
  async setPassword(userId: string, password: string, ctx: CallContext): Promise<OktaUser> {
    const user = await this.call('updateUser', ctx, () => this.client.userApi.updateUser({ userId, user: passwordUpdate(password) }));
    return toOktaUser(user);
  }
}

export interface CallContext {
  signal: AbortSignal;
  now: () => Date;
}

interface SdkUser {
  id?: string;
  status?: string;
  transitioningToStatus?: string | null;
  passwordChanged?: Date | string | null;
  profile?: { login?: string; email?: string };
}

/** Page size of listings: Okta's maximum for users is 200 (the default and most efficient). */
const LIST_PAGE = 200;

/** A listed user: the fields a member's tasks and evidence need. */
export interface OktaListedUser {
  id: string;
  login: string;
  email: string | null;
  status: string;
}

function toListedUser(user: SdkUser): OktaListedUser {
  if (!user.id || !user.status) throw new PermanentError('Okta listUsers: a user without id or status');
  return { id: user.id, login: user.profile?.login ?? '', email: user.profile?.email ?? null, status: user.status };
}

/**
 * A string value in an Okta search expression: double-quoted, with `"` and `\` escaped
 * (Okta follows SCIM filter syntax). Organization fields are checked at intake to hold
 * neither; this keeps the expression whole even so.
 */
export function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

function toOktaUser(user: SdkUser): OktaUser {
  if (!user.id || !user.status) throw new PermanentError('Okta getUser: answer without id or status');
  return {
    id: user.id,
    login: user.profile?.login ?? '',
    status: user.status,
    transitioningToStatus: user.transitioningToStatus ?? null,
    passwordChanged: isoOrNull(user.passwordChanged),
  };
}

/** The SDK deserializes timestamps to Date; an unparseable one reads as absent, not as now. */
function isoOrNull(value: Date | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/**
 * A partial update carrying only a new password. A plain object: the SDK serializes it by
 * its attribute maps, and its model classes are not named exports under Node's ESM loader.
 */
function passwordUpdate(password: string): UpdateUserRequest {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- see above: serialized by shape, never used as an instance
  return { credentials: { password: { value: password } } };
}
