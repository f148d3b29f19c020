/**
 * /Groups, answered here rather than by SCIMMY: a group can have tens of thousands of
 * members, and SCIMMY would coerce the whole resource several times per request and apply
 * an Entra remove-by-value-list as "remove every member". Mounted by the SCIM router behind
 * the same auth, body limits and query reader (the filter comes parsed against the Group
 * schema); SCIMMY still declares the Group resource type for discovery.
 */
import express, { type Request, type Response, type Router } from 'express';
import SCIMMY from 'scimmy';
import type { JsonObject } from '../../domain/types.ts';
import type { DirectoryGroup } from '../../store/directory-groups.ts';
import { ifMatchVersions } from './etag.ts';
import { fromScimGroup, groupETag, projected, toScimGroup, wantsMembers } from './group-mapping.ts';
import type { ScimGroupService } from './group-service.ts';
import { MAX_PAGE_SIZE, toScimError, type ScimContext } from './resources.ts';

const SCIM_CONTENT_TYPE = 'application/scim+json';

/** `/Groups` (id null) or `/Groups/<id>`, or null for any other path; a malformed escape is left to SCIMMY's 404. */
function groupTarget(path: string): { id: string | null } | null {
  const match = /^\/Groups(?:\/([^/]+))?\/?$/i.exec(path);
  if (!match) return null;
  if (match[1] === undefined) return { id: null };
  try {
    return { id: decodeURIComponent(match[1]) };
  } catch {
    return null;
  }
}

interface Representation {
  attributes?: string[];
  excludedAttributes?: string[];
}

function listParam(value: unknown): string[] | undefined {
  if (typeof value === 'string') return value.split(',');
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
}

/** What the query (or a `.search` body) asks of the representation and the page; the query reader checked it. */
function readQuery(source: Record<string, unknown>): Representation & { startIndex: number; count: number } {
  const number = (value: unknown, fallback: number) => (typeof value === 'number' && Number.isInteger(value) ? value : fallback);
  return {
    attributes: listParam(source.attributes),
    excludedAttributes: listParam(source.excludedAttributes),
    // RFC 7644 §3.4.2.4: a startIndex below 1 means 1, a negative count 0.
    startIndex: Math.max(1, number(source.startIndex, 1)),
    count: Math.min(Math.max(0, number(source.count, MAX_PAGE_SIZE)), MAX_PAGE_SIZE),
  };
}

export function groupRoutes(options: { groups: ScimGroupService; contextFor(req: Request): ScimContext }): Router {
  const { groups } = options;
  const router = express.Router();

  const send = (res: Response, status: number, body: JsonObject | null, group?: DirectoryGroup) => {
    if (group) res.set('ETag', groupETag(group));
    res.status(status);
    if (body === null) return res.end();
    // An object, not its text: the SCIM router rewrites a store outage's 500 body to 503 on the way out.
    return res.type(SCIM_CONTENT_TYPE).send(body);
  };

  const resource = (req: Request, group: DirectoryGroup, view: Representation) =>
    projected(toScimGroup(group, req.baseUrl, { members: wantsMembers(view) }), view);

  const list = async (req: Request, res: Response, source: Record<string, unknown>, context: ScimContext) => {
    const query = readQuery(source);
    const { groups: page, total } = await groups.list(context.filter, query, wantsMembers(query));
    send(res, 200, {
      schemas: [SCIMMY.Messages.ListResponse.id],
      totalResults: total,
      startIndex: query.startIndex,
      itemsPerPage: page.length,
      Resources: page.map((group) => resource(req, group, query)),
    });
  };

  router.use(async (req, res, next) => {
    const target = groupTarget(req.path);
    if (!target) return next();
    const context = options.contextFor(req);
    const ifMatch = ifMatchVersions(req.get('if-match'));
    const view = readQuery(req.query);
    try {
      const { id } = target;
      if (id === null && req.method === 'GET') return await list(req, res, req.query, context);
      if (id === null && req.method === 'POST') {
        const group = await groups.create(fromScimGroup(req.body), context);
        res.set('Location', `${req.baseUrl}/Groups/${group.id}`);
        return send(res, 201, resource(req, group, view), group);
      }
      if (id === '.search' && req.method === 'POST') return await list(req, res, (req.body ?? {}) as Record<string, unknown>, context);
      if (id !== null && req.method === 'GET') {
        const group = await groups.get(id, wantsMembers(view));
        return send(res, 200, resource(req, group, view), group);
      }
      if (id !== null && req.method === 'PUT') {
        const group = await groups.replace(id, fromScimGroup(req.body), context, ifMatch);
        return send(res, 200, resource(req, group, view), group);
      }
      if (id !== null && req.method === 'PATCH') {
        // RFC 7644 §3.5.2 allows 200 with the resource or 204; 200 is what Okta and Entra read best (as for Users).
        const group = await groups.patch(id, req.body, context, ifMatch);
        return send(res, 200, resource(req, group, view), group);
      }
      if (id !== null && req.method === 'DELETE') {
        await groups.delete(id, context, ifMatch);
        return send(res, 204, null);
      }
      res.set('Allow', id === null ? 'GET, POST' : 'GET, PUT, PATCH, DELETE');
      return send(res, 405, errorBody(405, `${req.method} is not supported on ${id === null ? '/Groups' : '/Groups/{id}'}`));
    } catch (error) {
      const failure = toScimError(error, context);
      return send(res, failure.status, JSON.parse(JSON.stringify(new SCIMMY.Messages.Error(failure))) as JsonObject);
    }
  });
  return router;
}

function errorBody(status: number, detail: string): JsonObject {
  return { schemas: [SCIMMY.Messages.Error.id], status: String(status), detail };
}
