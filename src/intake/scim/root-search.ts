/**
 * `POST /.search` at the SCIM root (RFC 7644 §3.4.3): one search over every resource type,
 * Users then Groups, each in creation order, paged as one list. The filter is read for each
 * type (query.ts readRootSearch): an attribute only the other type has never matches, and
 * `meta.resourceType eq "Group"` narrows to one type. Users are read and projected by the
 * User resource (as `GET /Users` is), groups by the group service (as `GET /Groups` is).
 */
import type { Request, RequestHandler, Response } from 'express';
import SCIMMY from 'scimmy';
import type { JsonObject } from '../../domain/types.ts';
import { projected, toScimGroup, wantsMembers } from './group-mapping.ts';
import type { ScimGroupService } from './group-service.ts';
import { ScimQueryError, type ScimLists, type ScimQueryReader } from './query.ts';
import { MAX_PAGE_SIZE, scimError, toScimError, type ScimContext } from './resources.ts';

const SCIM_CONTENT_TYPE = 'application/scim+json';

export interface RootSearchOptions {
  queries: ScimQueryReader;
  groups: ScimGroupService;
  contextFor(req: Request): ScimContext;
}

/** A list for SCIMMY's resource constructor, which reads them as comma-separated strings. */
function joined(lists: ScimLists): Record<string, string> {
  return Object.fromEntries(Object.entries(lists).map(([param, names]) => [param, (names as string[]).join(',')]));
}

export function rootSearch(options: RootSearchOptions): RequestHandler {
  const send = (res: Response, status: number, body: JsonObject) => res.status(status).type(SCIM_CONTENT_TYPE).send(body);

  return async (req, res) => {
    const context = options.contextFor(req);
    try {
      if (req.body === null || typeof req.body !== 'object' || Array.isArray(req.body)) {
        throw scimError(400, 'invalidSyntax', 'POST /.search takes a SearchRequest body');
      }
      const query = options.queries.readRootSearch(req.body as Record<string, unknown>);
      // SCIMMY checks the rest of the message (schemas, paging numbers), as for /Users/.search,
      // except that it refuses `count: 0`, which RFC 7644 §3.4.2.4 reads as "totals only".
      const { count: asked, ...checked } = req.body as Record<string, unknown>;
      const search = new SCIMMY.Messages.SearchRequest(
        (asked === 0 ? checked : req.body) as ConstructorParameters<typeof SCIMMY.Messages.SearchRequest>[0],
      );
      const startIndex = Math.max(1, search.startIndex ?? 1);
      const count = asked === 0 ? 0 : Math.min(search.count ?? MAX_PAGE_SIZE, MAX_PAGE_SIZE);

      const UserResource = SCIMMY.Resources.declared('User') as typeof SCIMMY.Resources.User;
      const users = (await new UserResource(undefined, { startIndex, count, ...joined(query.users.lists) }).read({
        ...context,
        filter: query.users.filter,
      })) as unknown as { totalResults: number; Resources: unknown[] };
      // Groups continue where the users end: from the first group once the page has users,
      // or as far into the groups as startIndex reaches past the last user.
      const members = wantsMembers(query.groups.lists);
      const { groups: page, total } = await options.groups.list(
        query.groups.filter,
        { startIndex: Math.max(1, startIndex - users.totalResults), count: count - users.Resources.length },
        members,
      );
      const groups = page.map((group) => projected(toScimGroup(group, req.baseUrl, { members }), query.groups.lists));
      return send(res, 200, {
        schemas: [SCIMMY.Messages.ListResponse.id],
        totalResults: users.totalResults + total,
        startIndex,
        itemsPerPage: users.Resources.length + groups.length,
        // SCIMMY's User instances serialise themselves (toJSON), as in a /Users list.
        Resources: [...(JSON.parse(JSON.stringify(users.Resources)) as JsonObject[]), ...groups],
      });
    } catch (error) {
      if (error instanceof ScimQueryError) {
        return send(res, error.status, errorBody(error.status, error.message, error.scimType));
      }
      const failure = toScimError(error, context);
      return send(res, failure.status, JSON.parse(JSON.stringify(new SCIMMY.Messages.Error(failure))) as JsonObject);
    }
  };
}

function errorBody(status: number, detail: string, scimType: string | null): JsonObject {
  return { schemas: [SCIMMY.Messages.Error.id], status: String(status), ...(scimType ? { scimType } : {}), detail };
}
