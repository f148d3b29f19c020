/**
 * The `providers.<name>` config block of a `rest` provider: an in-house system reached over
 * HTTP, described declaratively per action (docs/providers/rest.md). The schema checks every
 * field and parses every template and expression, so a mistake fails at start with its path;
 * its output stays plain data (it crosses to the attempt thread and is parsed again there),
 * and the adapter compiles it once more when it is built.
 */
import { z } from 'zod';
import { ACTIONS, type ActionName } from '../../src/domain/types.ts';
import { secureUrl } from '../http/secure-url.ts';
import { JsonQuery } from './condition.ts';
import { bodyVariables, parseBody, parseTemplate, variablesOf } from './template.ts';

export const REST_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** Actions a `rest` provider may declare: every action but the people's (`manual`, `notify`). */
export const REST_ACTIONS = ACTIONS.filter((a) => a !== 'manual' && a !== 'notify') as ActionName[];

/** Headers the adapter sets itself, or that would change where or how the request goes. */
const RESERVED_HEADERS = new Set([
  'authorization',
  'host',
  'content-length',
  'content-type',
  'accept',
  'connection',
  'transfer-encoding',
  'cookie',
]);

/** Evidence fields the adapter writes itself: a configured field may not pass for one of them. */
const RESERVED_EVIDENCE = new Set([
  'alreadyDone',
  'alreadyRequested',
  'condition',
  'status',
  'requested',
  'jobDone',
  'jobLost',
  'polls',
  'waitedMs',
]);

/** A mustache template, parsed here so a wrong tag or an unknown variable is an error with its path. */
const template = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .superRefine((value, ctx) => {
      try {
        parseTemplate(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    });

const expression = z
  .string()
  .min(1)
  .max(1000)
  .superRefine((value, ctx) => {
    try {
      JsonQuery.compile(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });

const HEADER_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
const HEADER_NAME_MESSAGE = 'expected a header name (letters, digits and hyphens)';
const headerName = z.string().regex(HEADER_NAME, HEADER_NAME_MESSAGE);
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/**
 * A record whose keys are checked here rather than by a key schema, whose failures zod reports
 * only as "Invalid key in record": each bad key gets its own message at its path.
 */
function namedRecord<V extends z.ZodType>(pattern: RegExp, message: string, value: V, refuse?: (key: string) => string | null) {
  return z.record(z.string(), value).superRefine((record, ctx) => {
    for (const key of Object.keys(record)) {
      const problem = pattern.test(key) ? (refuse?.(key) ?? null) : message;
      if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
    }
  });
}

export const restRequestSchema = z
  .object({
    method: z.enum(REST_METHODS),
    /**
     * A path appended to `baseUrl`, starting with `/`, with an optional query: a template whose
     * values are URL-encoded (`/tenants/{{account.id}}/exports?by={{subject.email}}`).
     */
    url: template(2000).refine((u) => u.startsWith('/') && !u.startsWith('//'), {
      error: 'expected a path starting with "/" (appended to baseUrl)',
    }),
    /** More headers, each value a template (checked for line breaks). Authorization comes from `auth`. */
    headers: namedRecord(HEADER_NAME, HEADER_NAME_MESSAGE, template(1000), (name) =>
      RESERVED_HEADERS.has(name.toLowerCase()) ? `header ${name} is set by the adapter (auth, JSON body)` : null,
    ).optional(),
    /** A JSON body: every string in it is a template of its own, rendered then JSON-escaped. */
    body: z.json().optional(),
  })
  .strict()
  .superRefine((request, ctx) => {
    if (request.body === undefined) return;
    if (request.method === 'GET') ctx.addIssue({ code: 'custom', path: ['body'], message: 'a GET request carries no body' });
    try {
      parseBody(request.body);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['body'], message: (error as Error).message });
    }
  });

/** Statuses: integers of an HTTP answer. */
const statuses = z.array(z.number().int().min(200).max(599)).max(20);

export const restVerifySchema = z
  .object({
    /** The read-back request (usually a GET). */
    request: restRequestSchema,
    /** A JMESPath expression on its JSON answer; the action is done when it is truthy. */
    condition: expression,
    /**
     * Fields recorded as evidence, each a JMESPath expression on the same answer; values must be
     * scalars (strings are cut to 120 characters). Record a secret's presence, never the secret:
     * `downloadUrl != null`. Default none.
     */
    evidence: namedRecord(FIELD_NAME, 'expected a field name (a letter, then letters, digits or _)', expression, (name) =>
      RESERVED_EVIDENCE.has(name) ? `a name the adapter records itself (${[...RESERVED_EVIDENCE].join(', ')})` : null,
    ).optional(),
  })
  .strict();

export const restPollSchema = z
  .object({
    /**
     * Values taken from the action request's JSON answer (JMESPath), for the poll's templates as
     * `{{job.<name>}}` (`exportId: id`). Kept in the task's checkpoint between polls. Default none.
     */
    capture: namedRecord(FIELD_NAME, 'expected a variable name (a letter, then letters, digits or _)', expression).default({}),
    /** The request that reads the job's state. */
    request: restRequestSchema,
    /** Truthy on the poll's answer: the job is done. */
    until: expression,
    /** Truthy on the poll's answer: the job failed at the provider (a PermanentError). Default none. */
    failedWhen: expression.optional(),
    /**
     * Answers meaning the job is not known (the provider lost it, or never kept it): polling
     * stops and the read-back decides (a VerificationError starts over). Default [404, 410].
     */
    lostStatuses: statuses.default([404, 410]),
    /** Time between polls; no worker slot is held meanwhile. Default 5 s. */
    intervalMs: z.number().int().min(10).max(3_600_000).default(5000),
    /** How long the job may take, counted from the request: then the task fails for an operator. Default 1 h. */
    timeoutMs: z
      .number()
      .int()
      .min(100)
      .max(7 * 86_400_000)
      .default(3_600_000),
  })
  .strict();

export const restActionSchema = z
  .object({
    /** The request that does the action. */
    request: restRequestSchema,
    /**
     * How the result is read back. `execute` reads it first too: when the condition already
     * holds, nothing is sent (a retry after a lost answer does not act twice).
     */
    verify: restVerifySchema,
    /** The action finishes asynchronously at the provider: poll until `until` holds. Default none. */
    poll: restPollSchema.optional(),
    /** Refusals of the request that mean "already done" (404 on a DELETE, 409): success. Default none. */
    alreadyDone: z.array(z.number().int().min(400).max(499)).max(20).default([]),
  })
  .strict()
  .superRefine((action, ctx) => {
    // `job.*` exists only between the request's answer and the end of polling.
    const captured = new Set(Object.keys(action.poll?.capture ?? {}).map((name) => `job.${name}`));
    const check = (request: RestRequestConfig, path: Array<string | number>, allowJob: boolean) => {
      for (const variable of requestVariables(request)) {
        if (!variable.startsWith('job.')) continue;
        if (!allowJob) ctx.addIssue({ code: 'custom', path, message: `{{${variable}}} is only known to the poll request` });
        else if (!captured.has(variable)) ctx.addIssue({ code: 'custom', path, message: `{{${variable}}} is not captured (poll.capture)` });
      }
    };
    check(action.request, ['request'], false);
    check(action.verify.request, ['verify', 'request'], false);
    if (action.poll) check(action.poll.request, ['poll', 'request'], true);
  });

export const restAuthSchema = z.discriminatedUnion('type', [
  /** `Authorization: Bearer <token>`; write the token as `${ENV_VAR}`: it is never logged. */
  z.object({ type: z.literal('bearer'), token: z.string().min(1).max(4096) }).strict(),
  /** A header of the system's own (`X-Api-Key`); the value from the environment as `${ENV_VAR}`. */
  z
    .object({
      type: z.literal('header'),
      name: headerName.refine((n) => !['host', 'content-length', 'content-type'].includes(n.toLowerCase()), {
        error: 'a header the adapter sets itself',
      }),
      value: z.string().min(1).max(4096),
    })
    .strict(),
]);

export const restResolveSchema = z
  .object({
    /** The look-up request (e.g. `GET /tenants?externalId={{subject.externalId}}`). */
    request: restRequestSchema,
    /** JMESPath giving the account id (a string or number); null or empty means no account (skipped). */
    id: expression,
    /** Answers meaning "no such account" (skipped). Default [404]. */
    absentStatuses: statuses.default([404]),
  })
  .strict()
  .refine((r) => !requestVariables(r.request).some((v) => v.startsWith('job.') || v === 'account.id' || v === 'taskId'), {
    error: 'the look-up may use subject.* and terminationId only (it is shared by the termination tasks at the provider)',
    path: ['request'],
  });

export const restConfigSchema = z
  .object({
    /** The API's root; request URLs are appended to it. https (http on a loopback host only). */
    baseUrl: secureUrl,
    /** How requests authenticate. */
    auth: restAuthSchema,
    /** Finds the subject's account. Default: the subject's `externalId` is the account id. */
    resolve: restResolveSchema.optional(),
    /** A request `validate()` sends at start to check the credentials (a 2xx passes). Default none. */
    probe: restRequestSchema
      .refine((r) => requestVariables(r).length === 0, {
        error: 'the probe is sent at start, for no subject: it may use no template variable',
      })
      .optional(),
    /** The actions this system supports, by action id (docs/configuration.md lists them). */
    actions: z.record(z.string(), restActionSchema).superRefine((actions, ctx) => {
      const ids = Object.keys(actions);
      if (ids.length === 0) ctx.addIssue({ code: 'custom', message: 'expected at least one action' });
      for (const id of ids) {
        if (!(REST_ACTIONS as string[]).includes(id)) {
          ctx.addIssue({ code: 'custom', path: [id], message: `unknown action "${id}" (expected one of: ${REST_ACTIONS.join(', ')})` });
        }
      }
    }),
    /** Header carrying the task id on every write, so the system can drop a retry's copy; null sends none. Default `Idempotency-Key`. */
    idempotencyHeader: headerName.nullable().default('Idempotency-Key'),
    /** Per-request timeout; a timed-out request is retried by the engine as transient. Default 30 s. */
    requestTimeoutMs: z.number().int().positive().max(300_000).default(30_000),
    /** Largest answer read, in bytes; a longer one fails the request (PermanentError). Default 1 MiB. */
    maxResponseBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
  })
  .strict();

export type RestConfig = z.output<typeof restConfigSchema>;
export type RestConfigInput = z.input<typeof restConfigSchema>;
export type RestRequestConfig = z.output<typeof restRequestSchema>;
export type RestActionConfig = z.output<typeof restActionSchema>;

/** Every variable a request's templates name (URL, headers, body); the templates were checked by the schema. */
export function requestVariables(request: RestRequestConfig): string[] {
  const safe = (f: () => string[]) => {
    try {
      return f();
    } catch {
      return [];
    }
  };
  return [
    ...safe(() => variablesOf(parseTemplate(request.url))),
    ...Object.values(request.headers ?? {}).flatMap((h) => safe(() => variablesOf(parseTemplate(h)))),
    ...(request.body === undefined ? [] : safe(() => bodyVariables(parseBody(request.body)))),
  ];
}
