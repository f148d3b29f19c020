/**
 * The operator's writes: create (or plan), cancel, approve, replay, complete. Each checks
 * the state first so an impossible transition is a 409 that says why; the store then
 * performs the change and audits it with the caller's identity in the same transaction.
 * A creation follows the one rule for a subject's second termination (answers.ts), and an
 * Idempotency-Key is kept with a hash of the canonical body: the same key and body get the
 * earlier answer, the same key with another body a 409, nothing written. The reads a 404
 * or 409 is decided on wait for the durable point first (invariant 7).
 */
import type { Request, Response } from 'express';
import { UNRESOLVED_TERMINATION_STATES, type Task, type TaskState, type Termination } from '../domain/types.ts';
import { answerOf, intakeCall } from '../intake/answers.ts';
import { canonicalSha256 } from '../intake/canonical-body.ts';
import { checkPlan, toSubject } from '../intake/termination-schema.ts';
import { ConflictError, ForbiddenError, NotFoundError, fromStore } from '../server/http-errors.ts';
import { durableRead } from '../store/store.ts';
import type { AdminDeps } from './deps.ts';
import { parse } from './parse.ts';
import { principalOf } from './principal.ts';
import { approveHeldBody, cancelBody, completeBody, createBody, createQuery, idempotencyKey, waiveBody } from './schemas.ts';

export function createTermination(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const query = parse(createQuery, req.query, 'query');
    const body = parse(createBody, req.body ?? {}, 'body');
    const principal = principalOf(res);
    const dryRun = query.dryRun === 'true' || body.dryRun === true;
    // A dry run writes nothing, so viewers may plan; creating needs an operator.
    if (!dryRun && principal.role !== 'operator') throw new ForbiddenError('operator role required');
    const subject = toSubject(body.subject);
    const request = { subject, reason: body.reason ?? null, effectiveAt: body.effectiveAt ?? null, playbook: body.playbook ?? null };
    const plan = checkPlan(deps.terminations, request);
    if (dryRun) {
      const existing = await fromStore(() => durableRead(deps.store, () => deps.store.findOpenTermination(plan.subjectKey)));
      // The plan with the playbook rules applied (checkPlan above only checked the request).
      res.json({
        dryRun: true,
        plan: await fromStore(() => deps.terminations.planFor(request)),
        existingTerminationId: existing?.id ?? null,
      });
      return;
    }
    const key = parse(idempotencyKey, req.get('idempotency-key'), 'Idempotency-Key');
    // The body as understood (dryRun aside: it is false here): the same request written differently is still the same.
    const { dryRun: _dryRun, ...understood } = body;
    const result = await intakeCall(() =>
      deps.terminations.submit({
        ...request,
        source: 'admin',
        sourceEventId: key ?? null,
        bodySha256: key ? canonicalSha256(understood) : null,
        supersede: body.supersede === true,
        actor: principal.actor,
      }),
    );
    const answer = answerOf(result);
    res.status(answer.status).json({ ...answer.body, termination: result.termination });
  };
}

/** Task states that mean the task did (or is doing) its work at the provider: a cancellation leaves them as they are. */
const ALREADY_RAN: readonly TaskState[] = ['succeeded', 'running', 'waived'];

export function cancelTermination(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const body = parse(cancelBody, req.body ?? {}, 'body');
    const termination = await requireTermination(deps, req);
    if (!UNRESOLVED_TERMINATION_STATES.includes(termination.state))
      throw new ConflictError(`termination is ${termination.state}; it can no longer be cancelled`);
    const cancelled = await fromStore(() =>
      deps.store.cancelTermination(termination.id, principalOf(res).actor, body.reason ?? 'cancelled by operator'),
    );
    if (!cancelled) throw new NotFoundError(`termination ${termination.id} not found`);
    // It finished between our read and the cancel: the store left it as it was.
    if (cancelled.state !== 'cancelled') throw new ConflictError(`termination is ${cancelled.state}; it can no longer be cancelled`);
    // Cancelling undoes nothing: what already ran (or is running and will finish) is listed, so the operator knows what to restore.
    const tasks = await fromStore(() => deps.store.listTasks(cancelled.id));
    const alreadyRan = tasks
      .filter((t) => ALREADY_RAN.includes(t.state))
      .map((t) => ({ id: t.id, step: t.stepId, provider: t.provider, action: t.action, state: t.state }));
    res.json({ termination: cancelled, alreadyRan, tasksCancelled: tasks.filter((t) => t.state === 'cancelled').length });
  };
}

export function approveTermination(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const termination = await requireTermination(deps, req);
    if (termination.state !== 'held') throw new ConflictError(`termination is ${termination.state}; only held terminations need approval`);
    const approved = await fromStore(() => deps.store.approveTermination(termination.id, principalOf(res).actor));
    if (!approved) throw new ConflictError('termination is no longer held');
    res.json({ termination: approved });
  };
}

/** POST /terminations/{id}/replay (every failed task) and .../tasks/{taskId}/replay (one). */
export function replayTasks(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const termination = await requireTermination(deps, req);
    // A cancelled termination's tasks never run again: a replayed one would wait forever.
    if (termination.state === 'cancelled') throw new ConflictError('termination is cancelled; its tasks cannot be replayed');
    const task = req.params.taskId === undefined ? null : await requireTask(deps, termination, String(req.params.taskId));
    if (task && task.state !== 'failed') throw new ConflictError(`task is ${task.state}; only failed tasks can be replayed`);
    const replayed = await fromStore(() => deps.store.replayFailedTasks(termination.id, task?.id ?? null, principalOf(res).actor));
    if (replayed.length === 0) throw new ConflictError(task ? 'task is no longer failed' : 'no failed tasks to replay');
    const after = await fromStore(() => deps.store.getTermination(termination.id));
    res.json({ termination: after ?? termination, replayed });
  };
}

/** A person reports a manual checklist step done (or not applicable, with the reason); who and when are audited. */
export function completeTask(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const body = parse(completeBody, req.body ?? {}, 'body');
    const termination = await requireTermination(deps, req);
    const task = await requireTask(deps, termination, String(req.params.taskId));
    if (task.action !== 'manual') throw new ConflictError('not a manual task');
    if (task.state !== 'pending') throw new ConflictError(`task is ${task.state}; only a pending manual task can be completed`);
    const completed = await fromStore(() => deps.store.completeManualTask(task.id, principalOf(res).actor, body.outcome, body.reason));
    if (!completed) throw new ConflictError(`termination is ${termination.state}; its manual tasks can no longer be completed`);
    res.json({ task: completed });
  };
}

/**
 * An operator settles a failed task without running it again (fixed by hand, or the account
 * is known to be gone), with the reason; who and why are audited and shown in the evidence.
 */
export function waiveTask(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const body = parse(waiveBody, req.body ?? {}, 'body');
    const termination = await requireTermination(deps, req);
    if (termination.state === 'cancelled') throw new ConflictError('termination is cancelled; its tasks can no longer be waived');
    const task = await requireTask(deps, termination, String(req.params.taskId));
    if (task.state !== 'failed')
      throw new ConflictError(
        `task is ${task.state}; only a failed task can be waived (a pending or running one may still succeed: wait, or cancel the termination)`,
      );
    const waived = await fromStore(() => deps.store.waiveTask(termination.id, task.id, principalOf(res).actor, body.reason));
    if (!waived) throw new ConflictError('task is no longer failed (replayed, waived or cancelled meanwhile); read the termination again');
    res.json(waived);
  };
}

/** Releases held terminations in bulk after a brake: named ones, or every held one with `all: true`. */
export function approveHeld(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const body = parse(approveHeldBody, req.body ?? {}, 'body');
    const actor = principalOf(res).actor;
    const ids =
      'ids' in body
        ? body.ids
        : (await fromStore(() => deps.store.listTerminations({ state: 'held', limit: 1000 }))).items.map((t) => t.id);
    const approved: string[] = [];
    const skipped: string[] = [];
    for (const id of ids) {
      const result = await fromStore(() => deps.store.approveTermination(id, actor));
      (result ? approved : skipped).push(id);
    }
    res.json({ approved, notHeld: skipped });
  };
}

async function requireTermination(deps: AdminDeps, req: Request): Promise<Termination> {
  const id = String(req.params.id);
  const termination = await fromStore(() => durableRead(deps.store, () => deps.store.getTermination(id)));
  if (!termination) throw new NotFoundError(`termination ${id} not found`);
  return termination;
}

/**
 * The task a path names, by task id or by step name (what `status` prints and a person
 * types): the store keeps step names unique within a termination.
 */
async function requireTask(deps: AdminDeps, termination: Termination, ref: string): Promise<Task> {
  const byId = await fromStore(() => durableRead(deps.store, () => deps.store.getTask(ref)));
  if (byId?.terminationId === termination.id) return byId;
  const tasks = await fromStore(() => durableRead(deps.store, () => deps.store.listTasks(termination.id)));
  const byStep = tasks.find((t) => t.stepId === ref);
  if (!byStep) throw new NotFoundError(`termination ${termination.id} has no task with id or step name "${ref}"`);
  return byStep;
}
