/**
 * remove_admin_roles on Microsoft Graph: the user's active directory role assignments
 * (unified RBAC, `roleManagement/directory`) are deleted one by one, and the read-back
 * must find none. PIM eligibilities and roles held through a role-assignable group are not
 * assignments of the user's own: docs/providers/microsoft.md says what covers them.
 */
import type { AccountRef, ActionContext, ActionHandler, Evidence, ExecuteResult } from '../contract.ts';
import { VerificationError } from '../contract.ts';
import type { JsonObject } from '../../src/domain/types.ts';
import { odataString, seg, type GraphApi } from './graph-client.ts';

interface RoleAssignment {
  id: string;
  principalId?: string;
  roleDefinitionId?: string | null;
  directoryScopeId?: string | null;
  roleDefinition?: { displayName?: string | null } | null;
}

const ASSIGNMENTS = '/roleManagement/directory/roleAssignments';

function assignmentEvidence(a: RoleAssignment): JsonObject {
  return {
    id: a.id,
    roleDefinitionId: a.roleDefinitionId ?? null,
    role: a.roleDefinition?.displayName ?? null,
    directoryScopeId: a.directoryScopeId ?? null,
  };
}

async function assignmentsOf(graph: GraphApi, userId: string, signal: AbortSignal): Promise<RoleAssignment[]> {
  const all = await graph.collect<RoleAssignment>({
    method: 'GET',
    path: ASSIGNMENTS,
    query: { $filter: `principalId eq ${odataString(userId)}`, $expand: 'roleDefinition' },
    signal,
  });
  // The filter is the server's; an assignment of another principal in the answer is not ours to delete.
  return all.filter((a) => a.principalId === userId);
}

export function removeAdminRoles(graph: GraphApi): ActionHandler {
  return {
    execute: async (account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> => {
      const assignments = await assignmentsOf(graph, account.id, ctx.signal);
      const removed: JsonObject[] = [];
      const alreadyGone: JsonObject[] = [];
      for (const assignment of assignments) {
        const answer = await graph.send({
          method: 'DELETE',
          path: `${ASSIGNMENTS}/${seg(assignment.id)}`,
          signal: ctx.signal,
          notFoundIsNull: true,
        });
        (answer.status === 404 ? alreadyGone : removed).push(assignmentEvidence(assignment));
      }
      return { evidence: { removed, alreadyGone, alreadyDone: removed.length === 0 } };
    },
    verify: async (account: AccountRef, ctx: ActionContext): Promise<Evidence> => {
      const remaining = await assignmentsOf(graph, account.id, ctx.signal);
      if (remaining.length > 0) {
        throw new VerificationError('directory role assignments remain', { remainingRoleAssignments: remaining.map(assignmentEvidence) });
      }
      return { remainingRoleAssignments: 0 };
    },
  };
}
