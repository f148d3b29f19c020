/**
 * The sandbox's slice of `/oauth2PermissionGrants`: the delegated consents users gave to
 * client apps. Listed by `$filter=principalId eq '…'` (the only listing Graph allows an
 * application token) and deleted one by one.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import type { SandboxControl } from '../sandbox/kit.ts';

export interface SeedPermissionGrant {
  clientId?: string;
  scope: string;
}

interface PermissionGrant {
  id: string;
  clientId: string;
  consentType: 'Principal';
  principalId: string;
  resourceId: string;
  scope: string;
}

type GraphErrorWriter = (res: Response, status: number, code: string, message: string) => void;

/** The Microsoft Graph service principal of a tenant: the resource most consents name. */
const GRAPH_RESOURCE_ID = '2f3a1b6e-0c1d-4a52-9e0b-6d1f0a7c3b11';

export class PermissionGrantStore {
  private readonly grants = new Map<string, PermissionGrant>();

  /** The seed body is whatever a test posted: each entry is checked before use. */
  seed(principalId: string, grants: unknown[]): void {
    for (const entry of grants) {
      const spec = (typeof entry === 'object' && entry !== null ? entry : {}) as Partial<SeedPermissionGrant>;
      if (typeof spec.scope !== 'string') continue;
      // Graph's grant ids are long opaque strings, not GUIDs.
      const id = randomBytes(33).toString('base64url');
      const clientId = typeof spec.clientId === 'string' ? spec.clientId : randomUUID();
      this.grants.set(id, { id, clientId, consentType: 'Principal', principalId, resourceId: GRAPH_RESOURCE_ID, scope: spec.scope });
    }
  }

  /** Scopes of the user's grants, for tests reading the sandbox's own state. */
  scopes(principalId: string): string[] {
    return [...this.grants.values()].filter((g) => g.principalId === principalId).map((g) => g.scope);
  }

  /** `GET` filtered by principalId and `DELETE /{id}`; false when the request is neither. */
  route(
    grantId: string | undefined,
    req: Request,
    res: Response,
    io: { control: SandboxControl; graphError: GraphErrorWriter; root: string },
  ): boolean {
    if (grantId === undefined && req.method === 'GET') {
      const filter = typeof req.query.$filter === 'string' ? req.query.$filter.trim() : '';
      const match = /^principalId eq '((?:[^']|'')*)'$/.exec(filter);
      if (!match) {
        io.graphError(res, 400, 'Request_UnsupportedQuery', 'Unsupported or invalid query filter clause specified.');
        return true;
      }
      const principal = match[1]!.replace(/''/g, "'");
      const value = [...this.grants.values()].filter((g) => g.principalId === principal);
      res.json({ '@odata.context': `${io.root}/$metadata#oauth2PermissionGrants`, value });
      return true;
    }
    if (grantId === undefined || req.method !== 'DELETE') return false;
    const grant = this.grants.get(grantId);
    if (!grant) {
      io.graphError(
        res,
        404,
        'Request_ResourceNotFound',
        `Resource '${grantId}' does not exist or one of its queried reference-property objects are not present.`,
      );
      return true;
    }
    if (io.control.lie()) {
      res.status(204).end();
      return true;
    }
    this.grants.delete(grantId);
    io.control.countWrite('delete_permission_grant', grant.principalId);
    res.status(204).end();
    return true;
  }
}
