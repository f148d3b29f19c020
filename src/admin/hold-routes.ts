/**
 * Legal holds (issue 29): operators place and release them with a reason (audited with the
 * caller, in the transaction that writes them); anyone signed in may list them. A hold keeps
 * destructive steps from running, never a revocation (src/domain/legal-hold.ts).
 */
import type { Request, Response } from 'express';
import { toSubject } from '../intake/termination-schema.ts';
import { ConflictError, NotFoundError, fromStore } from '../server/http-errors.ts';
import { durableRead } from '../store/store.ts';
import type { AdminDeps } from './deps.ts';
import { parse } from './parse.ts';
import { principalOf } from './principal.ts';
import { holdBody, holdsQuery, releaseBody } from './schemas.ts';

export function placeHold(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const body = parse(holdBody, req.body ?? {}, 'body');
    const target = 'subject' in body ? { subject: toSubject(body.subject) } : { terminationId: body.terminationId };
    const placed = await fromStore(() => deps.store.placeHold(target, principalOf(res).actor, body.reason));
    if (placed === null) throw new NotFoundError(`termination ${'terminationId' in body ? body.terminationId : ''} not found`);
    res.status(201).json(placed);
  };
}

export function releaseHold(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const id = String(req.params.id);
    const body = parse(releaseBody, req.body ?? {}, 'body');
    const released = await fromStore(() => deps.store.releaseHold(id, principalOf(res).actor, body.reason));
    if (released === null) throw new NotFoundError(`legal hold ${id} not found`);
    if (released === 'released') throw new ConflictError(`legal hold ${id} was released already`);
    res.json({ hold: released });
  };
}

export function listHolds(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const query = parse(holdsQuery, req.query, 'query');
    const active = query.active === undefined ? undefined : query.active === 'true';
    const items = await fromStore(() => durableRead(deps.store, () => deps.store.listHolds({ active })));
    res.json({ items });
  };
}
