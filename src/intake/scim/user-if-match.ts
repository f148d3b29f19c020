/**
 * If-Match on `PUT`, `PATCH` and `DELETE /Users/{id}` (RFC 7644 §3.14): the stored user's
 * version is checked against the header before the request goes on to be served (by
 * active-patch.ts or SCIMMY); another version answers 412 and nothing is written.
 *
 * The check and the write are two steps, so a write landing between them is not caught
 * (Groups check in the write itself, see group-service.ts). Users are written by one IdP,
 * one request per user at a time, so the header guards against a stale client, not a race.
 */
import type { NextFunction, Request, Response } from 'express';
import SCIMMY from 'scimmy';
import { userIdOf } from './active-patch.ts';
import { checkIfMatch, ifMatchVersions } from './etag.ts';
import { toScimError, type ScimContext } from './resources.ts';
import type { ScimUserService } from './user-service.ts';

const WRITES = new Set(['PUT', 'PATCH', 'DELETE']);

export function userIfMatch(users: ScimUserService, contextFor: (req: Request) => ScimContext) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const id = WRITES.has(req.method) ? userIdOf(req.path) : null;
    const accepted = id === null ? null : ifMatchVersions(req.get('if-match'));
    if (id === null || accepted === null) return next();
    const context = contextFor(req);
    try {
      checkIfMatch(accepted, (await users.get(id)).version);
    } catch (error) {
      const failure = toScimError(error, context);
      return res.status(failure.status).type('application/scim+json').send(new SCIMMY.Messages.Error(failure));
    }
    next();
  };
}
