/**
 * Re-verification on demand (issue 30): an operator asks for every verified task of a
 * finished termination to be read back now (audited with the caller); anyone signed in
 * may read the re-verifications and their results.
 */
import type { Request, Response } from 'express';
import { parseDuration } from '../config/duration.ts';
import { DEFAULT_MAX_ON_DEMAND, type Reverification } from '../domain/reverify.ts';
import { BadRequestError, ConflictError, NotFoundError, fromStore } from '../server/http-errors.ts';
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

/** The window of `reverify --since` and the sweep: a duration back from now ("30d"), checked like config durations. */
function windowStart(deps: AdminDeps, value: unknown): Date {
  const ms = typeof value === 'string' ? parseDuration(value) : null;
  if (ms === null || ms <= 0) throw new BadRequestError('since: expected a duration back from now, like "24h" or "30d"');
  return new Date(deps.now().getTime() - ms);
}

/** Every termination finished in the window is read back now; a window wider than `reverify.maxOnDemand` is refused. */
export function requestReverifySince(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const since = windowStart(deps, body.since);
    const max = deps.config.reverify?.maxOnDemand ?? DEFAULT_MAX_ON_DEMAND;
    const result = await fromStore(() => deps.store.requestReverificationsSince(since, principalOf(res).actor, max));
    if (result.refused) {
      throw new ConflictError(
        `more than ${max} terminations finished since ${since.toISOString()}: choose a shorter window (reverify.maxOnDemand is ${max})`,
      );
    }
    res.status(202).json({ since: since.toISOString(), terminations: result.terminations, queued: result.queued.map(view) });
  };
}

/** The sweep report: subjects terminated in the window with drift found, or a read-back still due. */
export function getSweep(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const since = windowStart(deps, req.query.since ?? '30d');
    const items = await fromStore(() => durableRead(deps.store, () => deps.store.driftSweep(since)));
    res.json({ since: since.toISOString(), items });
  };
}
