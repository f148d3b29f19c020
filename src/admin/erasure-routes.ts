/**
 * Erasure (issue 29, docs/privacy.md): operators erase a finished termination, or every
 * termination of a person, with a reason, and get the signed receipt; a privacy tool's
 * erasure request is stored and answered with when it will be carried out. Receipts and the
 * public key they verify with are readable by anyone signed in: they hold no personal data.
 */
import type { Request, Response } from 'express';
import { ErasureRefusedError, NoSuchSubjectError } from '../domain/erasure.ts';
import { keepPersonalData } from '../config/retention.ts';
import { toSubject } from '../intake/termination-schema.ts';
import { ConflictError, NotFoundError, fromStore, storeFailure } from '../server/http-errors.ts';
import { durableRead } from '../store/store.ts';
import type { AdminDeps } from './deps.ts';
import { parse } from './parse.ts';
import { principalOf } from './principal.ts';
import { erasureBody, erasureRequestBody, subjectErasureBody } from './schemas.ts';

/** A refusal is a 409 naming each hold, unfinished task and re-verification; nothing was written. */
async function refusalsAnswered<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ErasureRefusedError) throw new ConflictError(error.message, error.blockers);
    if (error instanceof NoSuchSubjectError) throw new NotFoundError(error.message);
    throw storeFailure(error);
  }
}

export function eraseTermination(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const id = String(req.params.id);
    const { reason } = parse(erasureBody, req.body ?? {}, 'body');
    const receipt = await refusalsAnswered(() => deps.store.eraseTermination(id, principalOf(res).actor, reason));
    if (receipt === null) throw new NotFoundError(`termination ${id} not found`);
    res.json(receipt);
  };
}

export function eraseSubject(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const body = parse(subjectErasureBody, req.body ?? {}, 'body');
    res.json(await refusalsAnswered(() => deps.store.eraseSubject(toSubject(body.subject), principalOf(res).actor, body.reason)));
  };
}

export function getErasure(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const id = String(req.params.id);
    const receipt = await fromStore(() => durableRead(deps.store, () => deps.store.getErasure(id)));
    if (receipt === null) throw new NotFoundError(`erasure ${id} not found`);
    res.json(receipt);
  };
}

export function getErasureKey(deps: AdminDeps) {
  return (_req: Request, res: Response) => {
    res.json(deps.store.erasureKey());
  };
}

export function requestErasure(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const body = parse(erasureRequestBody, req.body ?? {}, 'body');
    const keep = keepPersonalData({ playbooks: deps.config.playbooks ?? {} });
    const answer = await fromStore(() =>
      deps.store.requestErasure(
        { subject: toSubject(body.subject), requestedBy: body.requestedBy, reference: body.reference },
        principalOf(res).actor,
        keep,
      ),
    );
    res.status(202).json(answer);
  };
}

export function getErasureRequest(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const id = String(req.params.id);
    const answer = await fromStore(() => durableRead(deps.store, () => deps.store.getErasureRequest(id)));
    if (answer === null) throw new NotFoundError(`erasure request ${id} not found`);
    res.json(answer);
  };
}
