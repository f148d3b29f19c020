/**
 * Re-verification on demand (issue 30): an operator asks for every verified task of a
 * finished termination to be read back now (audited with the caller); anyone signed in
 * may read the re-verifications and their results.
 */
import type { Request, Response } from 'express';
import type { Reverification } from '../domain/reverify.ts';
import { ConflictError, NotFoundError, fromStore } from '../server/http-errors.ts';
import { durableRead } from '../store/store.ts';
import type { AdminDeps } from './deps.ts';
import { principalOf } from './principal.ts';

/** The lease token fences workers; an API client has no use for it. */
const view = ({ leaseToken: _token, ...rest }: Reverification) => rest;

/** Only a finished termination is re-verified: a running one's tasks still verify in their own attempts. */
const FINISHED = new Set(['completed', 'completed_with_waivers']);

export function requestReverify(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const id = String(req.params.id);
    const termination = await fromStore(() => durableRead(deps.store, () => deps.store.getTermination(id)));
    if (!termination) throw new NotFoundError(`termination ${id} not found`);
    if (!FINISHED.has(termination.state)) {
      throw new ConflictError(`termination is ${termination.state}; only a completed termination is re-verified`);
    }
    const queued = await fromStore(() => deps.store.requestReverification(termination.id, principalOf(res).actor));
    if (queued === null) throw new NotFoundError(`termination ${id} not found`);
    res.status(202).json({ termination, queued: queued.map(view) });
  };
}

export function listReverifications(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const id = String(req.params.id);
    const [termination, items] = await fromStore(() =>
      durableRead(deps.store, () => Promise.all([deps.store.getTermination(id), deps.store.listReverifications(id)])),
    );
    if (!termination) throw new NotFoundError(`termination ${id} not found`);
    res.json({ items: items.map(view) });
  };
}
