/**
 * remove_admin_roles: the leaver's admin role assignments outlive their intent. Super
 * admin status is a flag on the user (`isAdmin`, changed with users.makeAdmin); every other
 * admin role is a role assignment of the customer, listed by user and deleted one by one.
 * Roles held through a group (`includeIndirectRoleAssignments`) belong to the group and go
 * with remove_groups; they are not listed here.
 */
import {
  VerificationError,
  type AccountRef,
  type ActionContext,
  type ActionHandler,
  type Evidence,
  type ExecuteResult,
} from '../contract.ts';
import type { admin_directory_v1 } from '@googleapis/admin';
import type { JsonObject } from '../../src/domain/types.ts';
import type { GoogleActionKit } from './action-kit.ts';
import { isNotFound } from './errors.ts';

type RoleAssignment = admin_directory_v1.Schema$RoleAssignment;

export function removeAdminRolesHandler(kit: GoogleActionKit, customer: string): ActionHandler {
  return {
    execute: (account, ctx) => removeAdminRoles(kit, customer, account, ctx),
    verify: (account, ctx) => verifyNoAdminRoles(kit, customer, account, ctx),
  };
}

async function removeAdminRoles(kit: GoogleActionKit, customer: string, account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> {
  const { signal } = ctx;
  const user = await kit.requireUser(account, signal);
  const wasSuperAdmin = user.isAdmin === true;
  if (wasSuperAdmin) {
    // First, so that the super admin role assignment it implies is gone before the listing.
    await kit.call('users.makeAdmin', () =>
      kit.api.directory.users.makeAdmin({ userKey: account.id, requestBody: { status: false } }, { signal }),
    );
  }
  // Listed first, so that a retry deletes only what is still there; a 404 on a delete
  // found the assignment already gone.
  const assignments = await directAssignments(kit, customer, account.id, signal);
  for (const assignment of assignments) {
    const roleAssignmentId = assignment.roleAssignmentId;
    if (!roleAssignmentId) continue;
    try {
      await kit.api.directory.roleAssignments.delete({ customer, roleAssignmentId }, { signal });
    } catch (error) {
      if (!isNotFound(error)) throw kit.toError(error, 'roleAssignments.delete');
    }
  }
  return {
    evidence: {
      superAdminRevoked: wasSuperAdmin,
      rolesRemoved: assignments.map(describe),
      alreadyDone: !wasSuperAdmin && assignments.length === 0,
    },
  };
}

async function verifyNoAdminRoles(kit: GoogleActionKit, customer: string, account: AccountRef, ctx: ActionContext): Promise<Evidence> {
  const user = await kit.requireUser(account, ctx.signal);
  const left = await directAssignments(kit, customer, account.id, ctx.signal);
  if (user.isAdmin !== false || left.length > 0) {
    throw new VerificationError('google: the user still holds admin roles', {
      isAdmin: user.isAdmin ?? null,
      roleAssignments: left.map(describe),
    });
  }
  return { isAdmin: false, isDelegatedAdmin: user.isDelegatedAdmin ?? null, roleAssignmentsRemaining: 0 };
}

/** roleAssignments.list({customer, userKey}), every page: the user's direct assignments. */
async function directAssignments(kit: GoogleActionKit, customer: string, userKey: string, signal: AbortSignal): Promise<RoleAssignment[]> {
  const all: RoleAssignment[] = [];
  let pageToken: string | undefined;
  do {
    const page = await kit.call('roleAssignments.list', () =>
      kit.api.directory.roleAssignments.list({ customer, userKey, maxResults: 100, ...(pageToken ? { pageToken } : {}) }, { signal }),
    );
    all.push(...(page.items ?? []));
    pageToken = page.nextPageToken ?? undefined;
  } while (pageToken);
  return all;
}

function describe(a: RoleAssignment): JsonObject {
  return {
    roleAssignmentId: a.roleAssignmentId ?? null,
    roleId: a.roleId ?? null,
    scopeType: a.scopeType ?? null,
    ...(a.orgUnitId ? { orgUnitId: a.orgUnitId } : {}),
  };
}
