/**
 * The sandbox's slice of `/roleManagement/directory/roleAssignments`: list by principal
 * (with `$expand=roleDefinition`) and DELETE, over the directory roles the sandbox seeds.
 * Deleting an assignment also ends the user's membership of the role, so memberOf agrees.
 */
import type { Request, Response } from 'express';
import type { SandboxControl } from '../sandbox/kit.ts';

/** A directory role as the sandbox holds it: its members, each with the id of their assignment. */
export interface AssignableRole {
  id: string;
  displayName: string;
  members: Set<string>;
  /** principal id -> role assignment id */
  assignments: Map<string, string>;
}

type GraphErrorWriter = (res: Response, status: number, code: string, message: string) => void;

/** `GET` with `$filter=principalId eq '…'`, and `DELETE /{assignmentId}`; false when the request is not one of these. */
export function roleAssignmentsRoute(
  roles: Map<string, AssignableRole>,
  assignmentId: string | undefined,
  req: Request,
  res: Response,
  io: { control: SandboxControl; graphError: GraphErrorWriter; root: string },
): boolean {
  if (assignmentId === undefined && req.method === 'GET') {
    const filter = typeof req.query.$filter === 'string' ? req.query.$filter.trim() : '';
    const match = /^principalId eq '((?:[^']|'')*)'$/.exec(filter);
    if (!match) {
      io.graphError(res, 400, 'BadRequest', 'Invalid filter clause: this sandbox lists assignments by principalId only.');
      return true;
    }
    const principal = match[1]!.replace(/''/g, "'");
    const expand = req.query.$expand === 'roleDefinition';
    const value = [...roles.values()].flatMap((role) => {
      const id = role.assignments.get(principal);
      if (!id) return [];
      return [
        {
          id,
          principalId: principal,
          roleDefinitionId: role.id,
          directoryScopeId: '/',
          ...(expand ? { roleDefinition: { id: role.id, displayName: role.displayName, isBuiltIn: true } } : {}),
        },
      ];
    });
    res.json({ '@odata.context': `${io.root}/$metadata#roleManagement/directory/roleAssignments`, value });
    return true;
  }
  if (assignmentId === undefined || req.method !== 'DELETE') return false;
  for (const role of roles.values()) {
    for (const [principal, id] of role.assignments) {
      if (id !== assignmentId) continue;
      if (io.control.lie()) {
        res.status(204).end();
        return true;
      }
      role.assignments.delete(principal);
      role.members.delete(principal);
      io.control.countWrite('remove_role_assignment', principal);
      res.status(204).end();
      return true;
    }
  }
  io.graphError(
    res,
    404,
    'Request_ResourceNotFound',
    `Resource '${assignmentId}' does not exist or one of its queried reference-property objects are not present.`,
  );
  return true;
}
