/**
 * The OpenAPI 3.1 document of the admin API. Request schemas are generated from the zod
 * schemas the handlers validate with; tests/admin-openapi.test.ts checks that every
 * route of the router is documented here and every documented path is routed.
 */
import { z } from 'zod';
import { ACTIONS, TASK_STATES, TERMINATION_STATES } from '../domain/types.ts';
import {
  approveHeldBody,
  auditQuery,
  cancelBody,
  completeBody,
  createBody,
  erasureBody,
  erasureRequestBody,
  evidenceQuery,
  holdBody,
  holdsQuery,
  listQuery,
  releaseBody,
  subjectErasureBody,
  waiveBody,
} from './schemas.ts';

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ 'application/json': { schema } });
const dateTime = { type: 'string', format: 'date-time' };
const nullable = (schema: Record<string, unknown>) => ({ oneOf: [schema, { type: 'null' }] });
const object = { type: 'object', additionalProperties: true };

const errors = {
  '400': { description: 'Invalid input; `error` names the field.', content: json(ref('Error')) },
  '401': { description: 'Missing or invalid bearer token (`WWW-Authenticate: Bearer`).', content: json(ref('Error')) },
  '403': { description: 'The token lacks the role this operation needs.', content: json(ref('Error')) },
  '404': { description: 'Unknown termination or task.', content: json(ref('Error')) },
  '409': { description: 'The transition is not possible from the current state.', content: json(ref('Error')) },
  '413': { description: 'Request body larger than `server.bodyLimit`.', content: json(ref('Error')) },
  '503': { description: 'The store (or the OIDC issuer) is unavailable; retry later.', content: json(ref('Error')) },
} as const;
const pick = (...codes: Array<keyof typeof errors>) => Object.fromEntries(codes.map((c) => [c, errors[c]]));

const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'Termination id.' };
const taskParam = {
  name: 'taskId',
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description: "The task's id, or its step name (unique within the termination, as `deprovisiond status` prints it).",
};

function queryParameters(schema: z.ZodType): unknown[] {
  const { properties = {} } = jsonSchema(schema) as { properties?: Record<string, Record<string, unknown>> };
  return Object.entries(properties).map(([name, property]) => ({ name, in: 'query', required: false, schema: property }));
}

function write(
  summary: string,
  options: {
    parameters?: unknown[];
    body?: z.ZodType;
    bodyRequired?: boolean;
    ok: unknown;
    codes: Array<keyof typeof errors>;
    description?: string;
  },
) {
  return {
    summary,
    ...(options.description ? { description: options.description } : {}),
    'x-required-role': 'operator',
    parameters: options.parameters ?? [],
    ...(options.body ? { requestBody: { required: options.bodyRequired ?? false, content: json(jsonSchema(options.body)) } } : {}),
    responses: { '200': { description: 'Done.', content: json(options.ok) }, ...pick(...options.codes) },
  };
}

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'deprovisiond admin API',
      version: '1',
      description:
        'Inspect, create, cancel, approve and replay terminations. Every request needs `Authorization: Bearer <token>`: ' +
        'a configured admin token (role viewer or operator) or, when configured, an OIDC access token whose role claim maps to a role. ' +
        'Viewers may read (and dry-run); operators may also write. Every write is audited with the caller.',
    },
    servers: [{ url: '/admin/v1' }],
    security: [{ bearer: [] }],
    paths: {
      '/openapi.json': {
        get: {
          summary: 'This document.',
          'x-required-role': 'viewer',
          responses: { '200': { description: 'OpenAPI 3.1 document.', content: json(object) }, ...pick('401', '403') },
        },
      },
      '/terminations': {
        get: {
          summary: 'List terminations, newest first.',
          description:
            '`subject` takes a subject key (`ext:E1`, `user:a@x.com`, `email:a@x.com`) or a raw identifier, matched against every key it could form. ' +
            'Pass `nextCursor` back as `cursor` for the next page.',
          'x-required-role': 'viewer',
          parameters: queryParameters(listQuery),
          responses: {
            '200': {
              description: 'One page.',
              content: json({
                type: 'object',
                required: ['items', 'nextCursor'],
                properties: { items: { type: 'array', items: ref('Termination') }, nextCursor: nullable({ type: 'string' }) },
              }),
            },
            ...pick('400', '401', '403', '503'),
          },
        },
        post: {
          summary: 'Create a termination, or plan one (`dryRun`).',
          description:
            'With `?dryRun=true` or `"dryRun": true` the plan is returned and nothing is written (viewers may do this). ' +
            'Otherwise an operator asks for the termination, under one rule for a subject that already has an open one: an earlier ' +
            '`effectiveAt` brings it forward (`outcome: rescheduled`), a later or equal one with the same playbook (or none named) joins it ' +
            '(`outcome: joined`), both 200; another playbook is a 409 naming the open termination unless `supersede: true` (201, ' +
            '`outcome: superseded`). The same `Idempotency-Key` with the same body is answered as the first time with `duplicate: true` ' +
            '(200); with another body it is a 409 and nothing is written. See docs/admin-api.md.',
          'x-required-role': 'operator (viewer for dry runs)',
          parameters: [
            { name: 'dryRun', in: 'query', required: false, schema: { type: 'string', enum: ['true', 'false'] } },
            { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 256 } },
          ],
          requestBody: { required: true, content: json(jsonSchema(createBody)) },
          responses: {
            '200': {
              description:
                'The open termination, brought forward or joined; a true repeat of an Idempotency-Key (`duplicate: true`); or the plan of a dry run.',
              content: json({ oneOf: [ref('Created'), ref('Plan')] }),
            },
            '201': { description: 'Created (or superseded the open termination).', content: json(ref('Created')) },
            ...pick('400', '401', '403', '409', '413', '503'),
          },
        },
      },
      '/overview': {
        get: {
          summary:
            'What needs attention: open terminations, failed tasks, held terminations, overdue manual steps, time to revoke p50/p99 over the last 24 h.',
          'x-required-role': 'viewer',
          responses: {
            '200': {
              description:
                'Counts now; time to revoke (ms) of the terminations revoked in the last 24 hours, nearest-rank percentiles (null when none).',
              content: json({
                type: 'object',
                properties: {
                  generatedAt: dateTime,
                  openTerminations: { type: 'integer', description: 'scheduled, held, running or failed' },
                  terminationsByState: { type: 'object', additionalProperties: { type: 'integer' } },
                  heldTerminations: { type: 'integer' },
                  failedTasks: { type: 'integer' },
                  manualPending: { type: 'integer' },
                  manualOverdue: { type: 'integer', description: 'manual steps past their dueWithin' },
                  timeToRevoke: {
                    type: 'object',
                    properties: {
                      since: dateTime,
                      count: { type: 'integer' },
                      p50Ms: nullable({ type: 'number' }),
                      p99Ms: nullable({ type: 'number' }),
                    },
                  },
                },
              }),
            },
            ...pick('401', '503'),
          },
        },
      },
      '/audit': {
        get: {
          summary: 'The audit log in chain order, a page at a time: linked entries after `after`, then any not linked yet.',
          'x-required-role': 'viewer',
          parameters: queryParameters(auditQuery),
          responses: {
            '200': {
              description: 'One page; `nextAfter` is the position to read after for the next one, null at the end.',
              content: json({
                type: 'object',
                properties: {
                  items: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        position: nullable({ type: 'integer' }),
                        seq: { type: 'integer' },
                        at: dateTime,
                        actor: { type: 'string' },
                        action: { type: 'string' },
                        terminationId: nullable({ type: 'string' }),
                        taskId: nullable({ type: 'string' }),
                        data: object,
                        sealedData: nullable({
                          type: 'string',
                          description:
                            "The entry's data as chained, when it is sealed under a record's key (docs/privacy.md): what the hash covers. `data` is it opened, or {erased: true}.",
                        }),
                        hash: nullable({ type: 'string' }),
                        linked: { type: 'boolean' },
                      },
                    },
                  },
                  nextAfter: nullable({ type: 'integer' }),
                },
              }),
            },
            ...pick('400', '401', '503'),
          },
        },
      },
      '/terminations/{id}': {
        get: {
          summary: 'One termination with its tasks, attempts, errors and evidence.',
          'x-required-role': 'viewer',
          parameters: [idParam],
          responses: { '200': { description: 'Found.', content: json(ref('TerminationDetail')) }, ...pick('401', '403', '404', '503') },
        },
      },
      '/terminations/{id}/cancel': {
        post: write(
          'Cancel an open termination and every task not yet run (e.g. a rehire). Nothing already done is undone: `alreadyRan` lists it.',
          {
            parameters: [idParam],
            body: cancelBody,
            ok: {
              type: 'object',
              properties: {
                termination: ref('Termination'),
                alreadyRan: {
                  type: 'array',
                  description: 'Tasks that succeeded, were waived, or are running and will finish: their work stays done.',
                  items: {
                    type: 'object',
                    properties: {
                      id: { type: 'string' },
                      step: { type: 'string' },
                      provider: { type: 'string' },
                      action: { type: 'string' },
                      state: { type: 'string' },
                    },
                  },
                },
                tasksCancelled: { type: 'integer', description: 'Tasks of the termination that will not run.' },
              },
            },
            codes: ['400', '401', '403', '404', '409', '413', '503'],
          },
        ),
      },
      '/terminations/{id}/approve': {
        post: write('Release a held termination (blast-radius brake) to run.', {
          parameters: [idParam],
          ok: { type: 'object', properties: { termination: ref('Termination') } },
          codes: ['401', '403', '404', '409', '503'],
        }),
      },
      '/terminations/{id}/replay': {
        post: write('Put every failed task back in the queue with a fresh retry budget.', {
          parameters: [idParam],
          ok: ref('Replayed'),
          codes: ['401', '403', '404', '409', '503'],
        }),
      },
      '/terminations/{id}/reverify': {
        post: {
          ...write('Read back every verified task of a completed termination now (re-verification; audited with the caller).', {
            description:
              'Queues one re-verification per verified task, due at once; they run at low priority, behind live terminations. ' +
              'A read-back that finds access back is drift (metric, audit entry, notification, remediation if the playbook says so). ' +
              'Answers 409 for a termination that is not completed.',
            parameters: [idParam],
            ok: object,
            codes: ['401', '403', '404', '409', '503'],
          }),
          responses: {
            '202': {
              description: 'Queued.',
              content: json({
                type: 'object',
                properties: { termination: ref('Termination'), queued: { type: 'array', items: ref('Reverification') } },
              }),
            },
            ...pick('401', '403', '404', '409', '503'),
          },
        },
      },
      '/reverify': {
        post: {
          ...write('Read back every verified task of every termination finished in a window, now (audited per termination).', {
            description:
              'The window is a duration back from now (`since`, e.g. `30d`). Answers 409, queueing nothing, when more terminations ' +
              'finished in it than `reverify.maxOnDemand` (default 500): choose a shorter window.',
            body: z.object({ since: z.string().describe('a duration back from now, like "24h" or "30d"') }),
            bodyRequired: true,
            ok: object,
            codes: ['400', '401', '403', '409', '503'],
          }),
          responses: {
            '202': {
              description: 'Queued.',
              content: json({
                type: 'object',
                properties: {
                  since: dateTime,
                  terminations: { type: 'integer' },
                  queued: { type: 'array', items: ref('Reverification') },
                },
              }),
            },
            ...pick('400', '401', '403', '409', '503'),
          },
        },
      },
      '/sweep': {
        get: {
          summary:
            'Sweep report: subjects terminated in a window whose latest read-back of some task found access back (drift), or with a read-back due and not yet made (pending).',
          'x-required-role': 'viewer',
          parameters: [
            {
              name: 'since',
              in: 'query',
              required: false,
              schema: { type: 'string', default: '30d', description: 'a duration back from now' },
            },
          ],
          responses: {
            '200': {
              description: 'Oldest termination first. The subject is one identifier (userName, else first email, else externalId).',
              content: json({
                type: 'object',
                properties: {
                  since: dateTime,
                  items: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        terminationId: { type: 'string' },
                        subject: { type: 'string' },
                        terminationState: { type: 'string' },
                        requestedAt: dateTime,
                        status: { type: 'string', enum: ['drift', 'pending'] },
                        drift: { type: 'array', items: { type: 'string', description: 'provider/action' } },
                        pending: { type: 'array', items: { type: 'string', description: 'provider/action' } },
                        lastCheckedAt: nullable(dateTime),
                      },
                    },
                  },
                },
              }),
            },
            ...pick('400', '401', '403', '503'),
          },
        },
      },
      '/terminations/{id}/reverifications': {
        get: {
          summary: "A termination's re-verifications (scheduled, on demand) and what each read back.",
          'x-required-role': 'viewer',
          parameters: [idParam],
          responses: {
            '200': {
              description: 'Oldest due first.',
              content: json({ type: 'object', properties: { items: { type: 'array', items: ref('Reverification') } } }),
            },
            ...pick('401', '403', '404', '503'),
          },
        },
      },
      '/terminations/{id}/tasks/{taskId}/replay': {
        post: write('Put one failed task back in the queue with a fresh retry budget.', {
          parameters: [idParam, taskParam],
          ok: ref('Replayed'),
          codes: ['401', '403', '404', '409', '503'],
        }),
      },
      '/terminations/{id}/tasks/{taskId}/waive': {
        post: write('Settle one failed task without running it again, with the reason (audited with the caller).', {
          description:
            'The task becomes `waived`: its dependants and the destructive step at its provider may run, and the termination can finish ' +
            '(`completed_with_waivers`). The evidence shows it as waived, never as verified. Answers 409 for a task that is not failed.',
          parameters: [idParam, taskParam],
          body: waiveBody,
          bodyRequired: true,
          ok: { type: 'object', properties: { termination: ref('Termination'), task: ref('Task') } },
          codes: ['400', '401', '403', '404', '409', '413', '503'],
        }),
      },
      '/terminations/{id}/evidence': {
        get: {
          summary: 'The evidence document of one termination: timeline, attempts, read-backs, operators, audit chain position.',
          'x-required-role': 'viewer',
          parameters: [idParam, ...queryParameters(evidenceQuery)],
          responses: {
            '200': { description: 'The document.', content: { ...json(object), 'text/html': { schema: { type: 'string' } } } },
            ...pick('401', '404', '503'),
          },
        },
      },
      '/terminations/approve-held': {
        post: write('Release held terminations in bulk (after a blast-radius brake): `{ids: [...]}` or `{all: true}`.', {
          body: approveHeldBody,
          ok: {
            type: 'object',
            properties: { approved: { type: 'array', items: { type: 'string' } }, notHeld: { type: 'array', items: { type: 'string' } } },
          },
          codes: ['400', '401', '403', '413', '503'],
        }),
      },
      '/terminations/{id}/tasks/{taskId}/complete': {
        post: {
          ...write('Complete a manual checklist task (done, or not applicable with the reason).', {
            description: 'Answers 409 for a task that is not a pending manual task, or when the termination is finished or cancelled.',
            parameters: [idParam, taskParam],
            body: completeBody,
            ok: object,
            codes: ['400', '401', '403', '404', '409', '413', '503'],
          }),
        },
      },
      '/holds': {
        get: {
          summary: 'Legal holds, newest first; `active=true` for those in force.',
          'x-required-role': 'viewer',
          parameters: queryParameters(holdsQuery),
          responses: {
            '200': {
              description: 'Every hold.',
              content: json({ type: 'object', properties: { items: { type: 'array', items: ref('LegalHold') } } }),
            },
            ...pick('400', '401', '403', '503'),
          },
        },
        post: {
          ...write('Place a legal hold on a subject (any of their identifiers) or on one termination, with the reason (audited).', {
            description:
              'While the hold is in force no destructive step (`delete_account`) of the covered terminations runs; revocations are never held. ' +
              'A subject hold covers every key the identifiers given form and the keys of terminations on record for them, and later terminations too. ' +
              '`alreadyRunning` lists deletes claimed before the hold committed: at the provider, beyond its reach.',
            body: holdBody,
            bodyRequired: true,
            ok: object,
            codes: ['400', '401', '403', '404', '413', '503'],
          }),
          responses: {
            '201': {
              description: 'Placed.',
              content: json({
                type: 'object',
                properties: {
                  hold: ref('LegalHold'),
                  terminations: { type: 'array', items: { type: 'string' } },
                  alreadyRunning: { type: 'array', items: object },
                  alreadyDone: { type: 'array', items: object },
                },
              }),
            },
            ...pick('400', '401', '403', '404', '413', '503'),
          },
        },
      },
      '/holds/{id}/release': {
        post: write('Release a legal hold, with the reason (audited): held deletes that are due run now.', {
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'Legal hold id.' }],
          body: releaseBody,
          bodyRequired: true,
          ok: { type: 'object', properties: { hold: ref('LegalHold') } },
          codes: ['400', '401', '403', '404', '409', '413', '503'],
        }),
      },
      '/terminations/{id}/erasure': {
        post: write(
          "Erase a finished termination's personal data, with the reason (audited `privacy.erased`); answers the signed receipt.",
          {
            description:
              'In one transaction: the data key that seals its records is destroyed, its subject keys become its pseudonym, its webhook deliveries and the ' +
              "person's directory users are deleted, the data keys of released holds naming them are destroyed. 409 while a legal hold covers it, " +
              'while a task or re-verification may still run, or when it was erased already (`details` names each); nothing is written then.',
            parameters: [idParam],
            body: erasureBody,
            bodyRequired: true,
            ok: ref('SignedReceipt'),
            codes: ['400', '401', '403', '404', '409', '413', '503'],
          },
        ),
      },
      '/erasures': {
        post: write(
          'Erase every termination on record for a subject (any of their identifiers), all or nothing; answers the signed receipt.',
          {
            description:
              '404 when no termination is on record for the subject; 409 as for one termination, naming each termination that refuses.',
            body: subjectErasureBody,
            bodyRequired: true,
            ok: ref('SignedReceipt'),
            codes: ['400', '401', '403', '404', '409', '413', '503'],
          },
        ),
      },
      '/erasures/{id}': {
        get: {
          summary: 'A signed erasure receipt the store keeps, by erasure id.',
          'x-required-role': 'viewer',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'Erasure id.' }],
          responses: { '200': { description: 'The receipt.', content: json(ref('SignedReceipt')) }, ...pick('401', '403', '404', '503') },
        },
      },
      '/erasure-key': {
        get: {
          summary: 'The Ed25519 public key erasure receipts are signed with (derived from the master key).',
          'x-required-role': 'viewer',
          responses: {
            '200': {
              description: 'The key.',
              content: json({
                type: 'object',
                properties: {
                  algorithm: { type: 'string', enum: ['Ed25519'] },
                  keyId: { type: 'string' },
                  publicKeyPem: { type: 'string' },
                },
              }),
            },
            ...pick('401', '403'),
          },
        },
      },
      '/erasure-requests': {
        post: {
          ...write(
            'Store a right-to-erasure request from a privacy tool; answered 202 with when it will be carried out, or why it cannot be.',
            {
              description:
                '`scheduled` with `dueAt` (now, or when the records must stop keeping personal data: a playbook whose `retention.personalData` is `record`), ' +
                '`waiting` while a termination of the subject is not finished, `refused` when a legal hold applies (`holds` names each) or no termination is on record. ' +
                'The retention job carries it out when due; the receipt is then at `/erasures/{erasureId}`.',
              body: erasureRequestBody,
              bodyRequired: true,
              ok: ref('ErasureRequest'),
              codes: ['400', '401', '403', '413', '503'],
            },
          ),
          responses: {
            '202': { description: 'Stored.', content: json(ref('ErasureRequest')) },
            ...pick('400', '401', '403', '413', '503'),
          },
        },
      },
      '/erasure-requests/{id}': {
        get: {
          summary: 'Where an erasure request stands.',
          'x-required-role': 'viewer',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'Erasure request id.' }],
          responses: { '200': { description: 'The request.', content: json(ref('ErasureRequest')) }, ...pick('401', '403', '404', '503') },
        },
      },
    },
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'An admin token from `auth.admin`, or an OIDC access token (JWT) when `auth.oidc` is set.',
        },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          // requestId: on a 500 (a bug), the id the daemon logged the cause under.
          properties: { error: { type: 'string' }, details: {}, requestId: { type: 'string' } },
        },
        Subject: jsonSchema(createBody.shape.subject),
        SignedReceipt: {
          type: 'object',
          description: 'An erasure receipt and its Ed25519 signature over `JSON.stringify(receipt)`; no personal data.',
          properties: {
            receipt: {
              type: 'object',
              properties: {
                type: { type: 'string', enum: ['deprovisiond.erasure-receipt/v1'] },
                erasureId: { type: 'string' },
                erasedAt: dateTime,
                erasedBy: { type: 'string' },
                reason: { type: 'string' },
                scope: { type: 'string', enum: ['termination', 'subject', 'retention', 'request'] },
                requestReference: nullable({ type: 'string' }),
                terminations: { type: 'array', items: object },
                totals: object,
              },
            },
            signature: {
              type: 'object',
              properties: { algorithm: { type: 'string', enum: ['Ed25519'] }, keyId: { type: 'string' }, value: { type: 'string' } },
            },
          },
        },
        ErasureRequest: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            state: { type: 'string', enum: ['scheduled', 'waiting', 'refused', 'done'] },
            requestedBy: { type: 'string' },
            reference: { type: 'string' },
            receivedAt: dateTime,
            dueAt: nullable(dateTime),
            because: nullable({ type: 'string' }),
            holds: { type: 'array', items: { type: 'object', properties: { holdId: { type: 'string' }, reason: { type: 'string' } } } },
            terminations: { type: 'array', items: { type: 'string' } },
            erasureId: nullable({ type: 'string' }),
          },
        },
        LegalHold: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            subject: nullable(ref('Subject')),
            subjectKeys: { type: 'array', items: { type: 'string' } },
            terminationId: nullable({ type: 'string' }),
            reason: { type: 'string' },
            placedBy: { type: 'string' },
            placedAt: dateTime,
            releasedBy: nullable({ type: 'string' }),
            releasedAt: nullable(dateTime),
            releaseReason: nullable({ type: 'string' }),
          },
        },
        Termination: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            source: { type: 'string', enum: ['scim', 'webhook', 'admin'] },
            sourceEventId: nullable({ type: 'string' }),
            subjectKey: { type: 'string' },
            subject: ref('Subject'),
            reason: nullable({ type: 'string' }),
            playbook: { type: 'string' },
            state: { type: 'string', enum: [...TERMINATION_STATES] },
            requestedAt: dateTime,
            effectiveAt: dateTime,
            revokedAt: nullable(dateTime),
            finishedAt: nullable(dateTime),
            createdBy: { type: 'string' },
          },
        },
        Task: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            terminationId: { type: 'string' },
            stepId: { type: 'string' },
            provider: { type: 'string' },
            action: { type: 'string', enum: [...ACTIONS] },
            params: object,
            critical: { type: 'boolean' },
            dependsOn: { type: 'array', items: { type: 'string' } },
            notBefore: dateTime,
            state: { type: 'string', enum: [...TASK_STATES] },
            attempts: { type: 'integer' },
            rateLimitedCount: { type: 'integer' },
            nextAttemptAt: dateTime,
            leaseOwner: nullable({ type: 'string' }),
            leaseExpiresAt: nullable(dateTime),
            account: nullable(object),
            checkpoint: nullable(object),
            lastError: nullable({ type: 'object', properties: { kind: { type: 'string' }, message: { type: 'string' } } }),
            evidence: nullable(object),
            startedAt: nullable(dateTime),
            finishedAt: nullable(dateTime),
          },
        },
        TaskAttempt: {
          type: 'object',
          properties: {
            taskId: { type: 'string' },
            attempt: { type: 'integer' },
            worker: { type: 'string' },
            startedAt: dateTime,
            finishedAt: dateTime,
            outcome: { type: 'string', enum: ['succeeded', 'skipped', 'in_progress', 'retry', 'failed'] },
            errorKind: nullable({ type: 'string' }),
            errorMessage: nullable({ type: 'string' }),
            evidence: nullable(object),
          },
        },
        TerminationDetail: {
          type: 'object',
          properties: {
            termination: ref('Termination'),
            tasks: { type: 'array', items: ref('Task') },
            attempts: { type: 'array', items: ref('TaskAttempt') },
            errors: { type: 'array', items: object, description: 'The last error of every task that has one.' },
            evidence: { type: 'array', items: object, description: 'What each finished task read back.' },
          },
        },
        Created: {
          type: 'object',
          required: ['terminationId', 'state', 'duplicate', 'outcome', 'termination'],
          properties: {
            terminationId: { type: 'string' },
            state: { type: 'string' },
            duplicate: { type: 'boolean', description: 'True only for a true repeat (same Idempotency-Key, same body): nothing changed.' },
            outcome: {
              type: 'string',
              enum: ['created', 'superseded', 'rescheduled', 'joined'],
              description: 'What the request did; for a repeat, what the first one did.',
            },
            effectiveAt: { ...dateTime, description: "`rescheduled` and `joined`: the termination's effective time now." },
            previousEffectiveAt: { ...dateTime, description: '`rescheduled`: the effective time before.' },
            supersededTerminationId: { type: 'string', description: '`superseded`: the termination this one replaced.' },
            termination: ref('Termination'),
          },
        },
        Plan: {
          type: 'object',
          properties: {
            dryRun: { const: true },
            plan: {
              type: 'object',
              properties: {
                subjectKey: { type: 'string' },
                playbook: { type: 'string' },
                rule: nullable({
                  type: 'string',
                  description: 'The playbookRules rule that chose the playbook; null: named by the request, or the default.',
                }),
                effectiveAt: dateTime,
                tasks: { type: 'array', items: object },
              },
            },
            existingTerminationId: nullable({ type: 'string' }),
          },
        },
        Reverification: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            terminationId: { type: 'string' },
            taskId: { type: 'string' },
            provider: { type: 'string' },
            action: { type: 'string' },
            reason: { type: 'string', enum: ['scheduled', 'on_demand'] },
            round: nullable({ type: 'integer' }),
            dueAt: dateTime,
            state: { type: 'string', enum: ['pending', 'running', 'done'] },
            outcome: nullable({ type: 'string', enum: ['held', 'drift', 'error', 'no_account'] }),
            evidence: nullable(object),
            finishedAt: nullable(dateTime),
          },
        },
        Replayed: {
          type: 'object',
          properties: { termination: ref('Termination'), replayed: { type: 'array', items: ref('Task') } },
        },
      },
    },
  };
}
