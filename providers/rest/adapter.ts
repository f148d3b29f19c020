/**
 * The `rest` adapter: an in-house system's API described by config (docs/providers/rest.md).
 * Each action reads first (the verify request and condition: already done is success and
 * nothing is sent), then sends its request, then, for a job that finishes later, polls it
 * through the engine's `inProgress` checkpoints (no worker slot is held while waiting). Only
 * the read-back is proof. Provider logic only: the HTTP layer, the error mapping and the
 * retries belong to providers/http and the engine.
 */
import {
  DeprovisionError,
  PermanentError,
  VerificationError,
  withCheckpoint,
  type AccountRef,
  type ActionContext,
  type ActionHandler,
  type Evidence,
  type ExecuteResult,
  type Provider,
  type ProviderFactoryContext,
} from '../contract.ts';
import { noThrottle } from '../http/request.ts';
import type { ActionName, JsonObject, JsonValue, Subject } from '../../src/domain/types.ts';
import { compileRequest, RestClient, type CompiledRequest } from './client.ts';
import { JsonQuery } from './condition.ts';
import type { RestActionConfig, RestConfig } from './config.ts';
import type { TemplateView } from './template.ts';

/** The read-back of an action, compiled. */
interface CompiledRead {
  request: CompiledRequest;
  condition: JsonQuery;
  evidence: Array<[string, JsonQuery]>;
}

interface CompiledPoll {
  capture: Array<[string, JsonQuery]>;
  request: CompiledRequest;
  until: JsonQuery;
  failedWhen: JsonQuery | null;
  lostStatuses: readonly number[];
  intervalMs: number;
  timeoutMs: number;
}

/** What an action's checkpoint holds between polls: the captured job values and when it was asked for. */
interface PollCheckpoint {
  job: Record<string, string>;
  startedAt: number;
  polls: number;
}

/** Longest string recorded as evidence: an id or a state, not a document. */
const MAX_EVIDENCE_STRING = 120;
/** Longest value a capture or a look-up may yield: an id, not a document. */
const MAX_ID_LENGTH = 256;

export function createRestProvider(config: RestConfig, factory: ProviderFactoryContext): Provider {
  const name = factory.name;
  const client = new RestClient(name, config, factory.throttle ?? noThrottle);
  const actions: Partial<Record<ActionName, ActionHandler>> = {};
  for (const [id, action] of Object.entries(config.actions)) actions[id as ActionName] = actionHandler(id, action, client);
  const resolve = config.resolve && {
    request: compileRequest(config.resolve.request),
    id: JsonQuery.compile(config.resolve.id),
    absentStatuses: config.resolve.absentStatuses,
  };
  const probe = config.probe && compileRequest(config.probe);

  const provider: Provider = {
    kind: 'rest',
    name,
    actions,
    async resolve(subject: Subject, ctx: ActionContext): Promise<AccountRef | null> {
      if (!resolve) {
        if (!subject.externalId)
          throw new PermanentError(`${name} resolve: the subject has no externalId and no resolve request is configured`);
        return { id: subject.externalId };
      }
      const answer = await client.send({
        request: resolve.request,
        view: viewFor(subject, null, ctx),
        operation: 'resolve',
        accepted: resolve.absentStatuses,
        signal: ctx.signal,
        nowMs: ctx.now().getTime(),
      });
      if (resolve.absentStatuses.includes(answer.status)) return null;
      const id = resolve.id.search(answer.body);
      if (id === null || id === '') return null;
      const text = idText(id);
      if (text === null)
        throw new PermanentError(`${name} resolve: "${resolve.id.source}" gave no usable id (expected a string or number)`);
      return { id: text };
    },
  };
  if (probe) {
    provider.validate = async ({ signal }) => {
      await client.send({ request: probe, view: {}, operation: 'probe', accepted: [], signal, nowMs: Date.now() });
    };
  }
  return provider;
}

function actionHandler(id: string, action: RestActionConfig, client: RestClient): ActionHandler {
  const read: CompiledRead = {
    request: compileRequest(action.verify.request),
    condition: JsonQuery.compile(action.verify.condition),
    evidence: Object.entries(action.verify.evidence ?? {}).map(([field, expr]) => [field, JsonQuery.compile(expr)]),
  };
  const request = compileRequest(action.request);
  const poll: CompiledPoll | null = action.poll
    ? {
        capture: Object.entries(action.poll.capture).map(([field, expr]) => [field, JsonQuery.compile(expr)]),
        request: compileRequest(action.poll.request),
        until: JsonQuery.compile(action.poll.until),
        failedWhen: action.poll.failedWhen ? JsonQuery.compile(action.poll.failedWhen) : null,
        lostStatuses: action.poll.lostStatuses,
        intervalMs: action.poll.intervalMs,
        timeoutMs: action.poll.timeoutMs,
      }
    : null;

  /** Sends the read-back; says whether the condition holds, with the configured evidence. */
  const readBack = async (account: AccountRef, ctx: ActionContext, operation: string) => {
    const answer = await client.send({
      request: read.request,
      view: viewFor(ctx.subject, account, ctx),
      operation,
      accepted: [],
      signal: ctx.signal,
      nowMs: ctx.now().getTime(),
    });
    const fields: JsonObject = {};
    for (const [field, query] of read.evidence) fields[field] = evidenceValue(query.search(answer.body));
    return { holds: read.condition.holds(answer.body), fields };
  };

  const pollOnce = async (account: AccountRef, ctx: ActionContext, job: PollCheckpoint, p: CompiledPoll): Promise<ExecuteResult> => {
    const nowMs = ctx.now().getTime();
    const waitedMs = Math.max(0, nowMs - job.startedAt);
    if (waitedMs > p.timeoutMs) throw new PermanentError(`${client.name} ${id} poll: not done within ${p.timeoutMs} ms`);
    let answer;
    try {
      answer = await client.send({
        request: p.request,
        view: viewFor(ctx.subject, account, ctx, job.job),
        operation: `${id} poll`,
        accepted: p.lostStatuses,
        signal: ctx.signal,
        nowMs,
      });
    } catch (error) {
      // A retry resumes polling the same job rather than asking for another.
      if (error instanceof DeprovisionError) throw withCheckpoint(error, checkpointOf(job));
      throw error;
    }
    const polls = job.polls + 1;
    // The job is unknown to the provider: polling cannot finish; the read-back decides, and a
    // VerificationError makes the engine start over.
    if (p.lostStatuses.includes(answer.status)) return { evidence: { requested: true, jobLost: true, polls, status: answer.status } };
    if (p.failedWhen?.holds(answer.body))
      throw new PermanentError(`${client.name} ${id} poll: the provider reports the job failed (${p.failedWhen.source})`);
    if (p.until.holds(answer.body)) return { evidence: { requested: true, jobDone: true, polls, waitedMs } };
    return {
      evidence: { requested: true, polls },
      inProgress: { checkAfterMs: p.intervalMs, checkpoint: checkpointOf({ ...job, polls }) },
    };
  };

  return {
    async execute(account, ctx) {
      const resumed = poll ? pollCheckpoint(ctx.checkpoint) : null;
      if (poll && resumed) return pollOnce(account, ctx, resumed, poll);
      // Read first: a retry after a lost answer, or a repeat after a takeover, finds the work done.
      const before = await readBack(account, ctx, `${id} read first`);
      if (before.holds) return { evidence: { ...before.fields, alreadyDone: true } };
      const answer = await client.send({
        request,
        view: viewFor(ctx.subject, account, ctx),
        operation: id,
        accepted: action.alreadyDone,
        signal: ctx.signal,
        nowMs: ctx.now().getTime(),
      });
      if (action.alreadyDone.includes(answer.status)) return { evidence: { alreadyDone: true, status: answer.status } };
      if (!poll) return { evidence: { status: answer.status } };
      const job: Record<string, string> = {};
      for (const [field, query] of poll.capture) {
        const value = idText(query.search(answer.body));
        if (value === null)
          throw new PermanentError(`${client.name} ${id}: the answer has no value for capture ${field} ("${query.source}")`);
        job[field] = value;
      }
      const started: PollCheckpoint = { job, startedAt: ctx.now().getTime(), polls: 0 };
      return {
        evidence: { status: answer.status, requested: true },
        inProgress: { checkAfterMs: poll.intervalMs, checkpoint: checkpointOf(started) },
      };
    },
    async verify(account, ctx): Promise<Evidence> {
      const after = await readBack(account, ctx, `${id} verify`);
      if (!after.holds)
        throw new VerificationError(`${client.name} ${id}: the read-back does not satisfy ${read.condition.source}`, {
          ...after.fields,
          condition: false,
        });
      return { ...after.fields, condition: true };
    },
  };
}

/** The template variables of one call; built of own data only. */
function viewFor(subject: Subject, account: AccountRef | null, ctx: ActionContext, job?: Record<string, string>): TemplateView {
  const organization = (subject as { organization?: unknown }).organization;
  const org: Record<string, string> = {};
  if (typeof organization === 'object' && organization !== null && !Array.isArray(organization)) {
    for (const [key, value] of Object.entries(organization)) if (typeof value === 'string') org[key] = value;
  }
  const emails = Array.isArray(subject.emails) ? subject.emails.filter((e) => typeof e === 'string') : [];
  return {
    subject: {
      externalId: subject.externalId,
      userName: subject.userName,
      email: emails[0],
      emails,
      displayName: subject.displayName,
      organization: org,
    },
    account: account ? { id: account.id } : undefined,
    terminationId: ctx.terminationId,
    taskId: ctx.taskId,
    job,
  };
}

/** An id from an answer: a short string or a finite number; anything else is none. */
function idText(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string' && value !== '' && value.length <= MAX_ID_LENGTH) return value;
  return null;
}

/** Evidence holds scalars only, strings cut short: a selected document or secret list is not copied whole. */
function evidenceValue(value: unknown): JsonValue {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string') return value.length > MAX_EVIDENCE_STRING ? `${value.slice(0, MAX_EVIDENCE_STRING)}…` : value;
  return Array.isArray(value) ? `[${value.length} items]` : '[object]';
}

function checkpointOf(job: PollCheckpoint): JsonObject {
  return { job: { ...job.job }, startedAt: job.startedAt, polls: job.polls };
}

/** The checkpoint back from the store, checked field by field; anything else starts afresh. */
function pollCheckpoint(checkpoint: JsonObject | null): PollCheckpoint | null {
  if (!checkpoint || !Object.hasOwn(checkpoint, 'job')) return null;
  const { job, startedAt, polls } = checkpoint as { job?: unknown; startedAt?: unknown; polls?: unknown };
  if (typeof job !== 'object' || job === null || Array.isArray(job)) return null;
  if (typeof startedAt !== 'number' || !Number.isFinite(startedAt) || typeof polls !== 'number' || !Number.isInteger(polls)) return null;
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(job)) {
    if (typeof value !== 'string') return null;
    values[key] = value;
  }
  return { job: values, startedAt, polls };
}
