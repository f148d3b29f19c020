/**
 * The CLI commands that talk to a running daemon through the admin API:
 * terminate, plan, status, list, cancel, approve, replay, waive, complete, evidence. Human tables by default,
 * `--json` for scripts. Exit 0 on success, 1 on an API or network error (and for
 * `status` of a termination with a failed task), 2 on a usage error.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AdminClient, ApiError } from './client.ts';
import { subjectLabel, table, time } from './format.ts';

export const ADMIN_COMMANDS = ['terminate', 'plan', 'status', 'list', 'cancel', 'approve', 'replay', 'waive', 'complete', 'evidence'] as const;
export type AdminCommand = (typeof ADMIN_COMMANDS)[number];

export const ADMIN_USAGE = `admin commands (talk to a running daemon; --url, default $DEPROVISIOND_URL or http://127.0.0.1:8080;
token from $DEPROVISIOND_TOKEN, or --token, which other local users can see in the process list):
  terminate SUBJECT [--reason R] [--effective-at ISO] [--playbook P] [--idempotency-key K]
  plan SUBJECT [--effective-at ISO] [--playbook P]      what a termination would do; writes nothing
  status ID                                            termination, tasks, errors (exit 1 if a task failed)
  list [--state S] [--subject X] [--since ISO] [--until ISO] [--limit N] [--cursor C]
  cancel ID [--reason R]
  approve ID | approve --all-held                      release a held termination, or every held one
  replay ID [--task TASK_ID]                           re-queue failed tasks
  waive ID TASK_ID --reason R                          settle a failed task without running it (audited)
  complete ID TASK_ID --outcome done|not_applicable --reason R   a person finished a manual step
  evidence ID [--html]                                 the termination's evidence document (JSON, or HTML)
  SUBJECT is one or more of --external-id, --user-name, --email (repeatable), plus
  --display-name and --manager-email. Every command takes --json.
`;

export interface CliIo {
  env: NodeJS.ProcessEnv;
  out: { write(text: string): unknown };
  err: { write(text: string): unknown };
}

class UsageError extends Error {}

const common = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const satisfies ParseArgsConfig['options'];

const subjectOptions = {
  'external-id': { type: 'string' },
  'user-name': { type: 'string' },
  email: { type: 'string', multiple: true },
  'display-name': { type: 'string' },
  'manager-email': { type: 'string' },
  'effective-at': { type: 'string' },
  playbook: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export async function runAdminCommand(command: AdminCommand, args: string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(command, args, io);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS')) {
      io.err.write(`deprovisiond ${command}: ${(error as Error).message}\n\n${ADMIN_USAGE}`);
      return 2;
    }
    if (error instanceof ApiError) {
      const status = error.status === null ? '' : ` (HTTP ${error.status})`;
      io.err.write(`deprovisiond ${command}: ${error.message}${status}\n`);
      if (Array.isArray(error.details)) {
        for (const d of error.details as Array<{ field?: string; message?: string }>) io.err.write(`  ${d.field}: ${d.message}\n`);
      }
      return 1;
    }
    throw error;
  }
}

async function dispatch(command: AdminCommand, args: string[], io: CliIo): Promise<number> {
  const print = (text: string) => io.out.write(text);
  switch (command) {
    case 'terminate':
    case 'plan': {
      const { values } = parseArgs({
        args,
        options: { ...common, ...subjectOptions, reason: { type: 'string' }, 'idempotency-key': { type: 'string' } },
      });
      const client = clientFor(values, io);
      const body = {
        subject: subjectFrom(values),
        ...(values.reason !== undefined ? { reason: values.reason } : {}),
        ...(values['effective-at'] !== undefined ? { effectiveAt: values['effective-at'] } : {}),
        ...(values.playbook !== undefined ? { playbook: values.playbook } : {}),
      };
      if (command === 'plan') {
        const result = await client.request('POST', '/terminations', { body, query: { dryRun: 'true' } });
        if (values.json) return json(io, result);
        const { plan } = result;
        print(`plan for ${plan.subjectKey}: playbook ${plan.playbook}, effective ${time(plan.effectiveAt)}\n`);
        print(
          table(
            ['STEP', 'PROVIDER', 'ACTION', 'AFTER', 'NOT BEFORE', 'CRITICAL'],
            plan.tasks.map((t: any) => [t.stepId, t.provider, t.action, t.dependsOn.join(','), time(t.notBefore), t.critical ? 'yes' : 'no']),
          ),
        );
        if (result.existingTerminationId) print(`an open termination already exists for this subject: ${result.existingTerminationId}\n`);
        return 0;
      }
      const headers = values['idempotency-key'] ? { 'idempotency-key': values['idempotency-key'] } : undefined;
      const result = await client.request('POST', '/terminations', { body, headers });
      if (values.json) return json(io, result);
      print(`termination ${result.terminationId} ${result.state}${result.duplicate ? ' (already known: nothing new was created)' : ''}\n`);
      return 0;
    }
    case 'status': {
      const { values, positionals } = parseArgs({ args, allowPositionals: true, options: common });
      const id = onePositional(positionals, 'ID');
      const detail = await clientFor(values, io).request('GET', `/terminations/${encodeURIComponent(id)}`);
      // A failed task is an open door even while its termination still runs other tasks.
      const failed = detail.termination.state === 'failed' || detail.tasks.some((k: { state: string }) => k.state === 'failed');
      if (values.json) {
        json(io, detail);
        return failed ? 1 : 0;
      }
      const t = detail.termination;
      print(
        [
          `termination ${t.id}: ${t.state}`,
          `  subject    ${subjectLabel(t.subject)} (${t.subjectKey})`,
          `  playbook   ${t.playbook}   source ${t.source}   by ${t.createdBy}`,
          `  requested  ${time(t.requestedAt)}   effective ${time(t.effectiveAt)}`,
          `  revoked    ${time(t.revokedAt)}   finished ${time(t.finishedAt)}`,
          t.reason ? `  reason     ${t.reason}` : null,
          '',
        ]
          .filter((l) => l !== null)
          .join('\n') + '\n',
      );
      print(
        table(
          ['TASK', 'STEP', 'PROVIDER', 'ACTION', 'STATE', 'ATTEMPTS', 'NOT BEFORE', 'LAST ERROR'],
          detail.tasks.map((k: any) => [k.id, k.stepId, k.provider, k.action, k.state, k.attempts, time(k.notBefore), k.lastError ? `${k.lastError.kind}: ${k.lastError.message}` : null]),
        ),
      );
      return failed ? 1 : 0;
    }
    case 'list': {
      const { values } = parseArgs({
        args,
        options: {
          ...common,
          state: { type: 'string' },
          subject: { type: 'string' },
          since: { type: 'string' },
          until: { type: 'string' },
          limit: { type: 'string' },
          cursor: { type: 'string' },
        },
      });
      const { url: _u, token: _t, json: asJson, ...query } = values;
      const page = await clientFor(values, io).request('GET', '/terminations', { query });
      if (asJson) return json(io, page);
      print(
        table(
          ['ID', 'STATE', 'SUBJECT', 'SOURCE', 'PLAYBOOK', 'REQUESTED', 'EFFECTIVE'],
          page.items.map((t: any) => [t.id, t.state, subjectLabel(t.subject), t.source, t.playbook, time(t.requestedAt), time(t.effectiveAt)]),
        ),
      );
      if (page.nextCursor) print(`more: --cursor ${page.nextCursor}\n`);
      return 0;
    }
    case 'cancel': {
      const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...common, reason: { type: 'string' } } });
      const id = onePositional(positionals, 'ID');
      const body = values.reason !== undefined ? { reason: values.reason } : {};
      const result = await clientFor(values, io).request('POST', `/terminations/${encodeURIComponent(id)}/cancel`, { body });
      if (values.json) return json(io, result);
      print(`termination ${result.termination.id} ${result.termination.state}\n`);
      return 0;
    }
    case 'approve': {
      const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...common, 'all-held': { type: 'boolean', default: false } } });
      if (values['all-held']) {
        if (positionals.length > 0) throw new UsageError('give either ID or --all-held');
        const result = await clientFor(values, io).request('POST', '/terminations/approve-held', { body: { all: true } });
        if (values.json) return json(io, result);
        print(`approved ${result.approved.length} held termination(s)\n`);
        return 0;
      }
      const id = onePositional(positionals, 'ID');
      const result = await clientFor(values, io).request('POST', `/terminations/${encodeURIComponent(id)}/approve`, { body: {} });
      if (values.json) return json(io, result);
      print(`termination ${result.termination.id} approved: ${result.termination.state}\n`);
      return 0;
    }
    case 'replay': {
      const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...common, task: { type: 'string' } } });
      const id = encodeURIComponent(onePositional(positionals, 'ID'));
      const path = values.task ? `/terminations/${id}/tasks/${encodeURIComponent(values.task)}/replay` : `/terminations/${id}/replay`;
      const result = await clientFor(values, io).request('POST', path, { body: {} });
      if (values.json) return json(io, result);
      print(`replayed ${result.replayed.length} task(s) of termination ${result.termination.id} (${result.termination.state})\n`);
      print(table(['TASK', 'STEP', 'PROVIDER', 'ACTION', 'STATE'], result.replayed.map((k: any) => [k.id, k.stepId, k.provider, k.action, k.state])));
      return 0;
    }
    case 'waive': {
      const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...common, reason: { type: 'string' } } });
      if (positionals.length !== 2) throw new UsageError('expected ID and TASK_ID');
      if (!values.reason?.trim()) throw new UsageError('--reason is required: why the failed task no longer needs to run (it goes into the audit log and the evidence)');
      const [id, taskId] = positionals.map((p) => encodeURIComponent(p));
      const result = await clientFor(values, io).request('POST', `/terminations/${id}/tasks/${taskId}/waive`, { body: { reason: values.reason } });
      if (values.json) return json(io, result);
      print(`task ${result.task.id} (${result.task.stepId}) waived; termination ${result.termination.id} ${result.termination.state}\n`);
      return 0;
    }
    case 'complete': {
      const { values, positionals } = parseArgs({
        args,
        allowPositionals: true,
        options: { ...common, outcome: { type: 'string' }, reason: { type: 'string' } },
      });
      if (positionals.length !== 2) throw new UsageError('expected ID and TASK_ID');
      if (values.outcome !== 'done' && values.outcome !== 'not_applicable') throw new UsageError('--outcome must be done or not_applicable');
      if (!values.reason) throw new UsageError('--reason is required (it goes into the audit log)');
      const [id, taskId] = positionals.map((p) => encodeURIComponent(p));
      const result = await clientFor(values, io).request('POST', `/terminations/${id}/tasks/${taskId}/complete`, {
        body: { outcome: values.outcome, reason: values.reason },
      });
      if (values.json) return json(io, result);
      print(`task ${result.task.id} (${result.task.stepId}) ${result.task.state}\n`);
      return 0;
    }
    case 'evidence': {
      const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...common, html: { type: 'boolean', default: false } } });
      const id = encodeURIComponent(onePositional(positionals, 'ID'));
      const client = clientFor(values, io);
      if (values.html) {
        print(await client.text('GET', `/terminations/${id}/evidence`, { query: { format: 'html' } }));
        return 0;
      }
      return json(io, await client.request('GET', `/terminations/${id}/evidence`));
    }
  }
}

function clientFor(values: { url?: string | undefined; token?: string | undefined }, io: CliIo): AdminClient {
  const url = values.url ?? io.env.DEPROVISIOND_URL ?? 'http://127.0.0.1:8080';
  const token = values.token ?? io.env.DEPROVISIOND_TOKEN;
  if (!token) throw new UsageError('no admin token: set DEPROVISIOND_TOKEN (or pass --token)');
  try {
    return new AdminClient(url, token);
  } catch {
    throw new UsageError(`--url: not a URL: ${url}`);
  }
}

function subjectFrom(values: Record<string, string | boolean | string[] | undefined>): Record<string, unknown> {
  const subject: Record<string, unknown> = { emails: (values.email as string[] | undefined) ?? [] };
  if (values['external-id']) subject.externalId = values['external-id'];
  if (values['user-name']) subject.userName = values['user-name'];
  if (values['display-name']) subject.displayName = values['display-name'];
  if (values['manager-email']) subject.manager = { email: values['manager-email'] };
  if (!subject.externalId && !subject.userName && (subject.emails as string[]).length === 0) {
    throw new UsageError('name the subject: --external-id, --user-name or --email');
  }
  return subject;
}

function onePositional(positionals: string[], name: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected exactly one ${name}`);
  return positionals[0]!;
}

function json(io: CliIo, value: unknown): number {
  io.out.write(`${JSON.stringify(value, null, 2)}\n`);
  return 0;
}
