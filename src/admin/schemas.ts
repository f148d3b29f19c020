/**
 * Request shapes of the admin API, as zod schemas: the handlers validate with them and
 * the OpenAPI document is generated from them, so the two cannot drift apart.
 */
import { z } from 'zod';
import { TERMINATION_STATES, type TerminationSource } from '../domain/types.ts';
import { MAX_HOLD_REASON } from '../domain/legal-hold.ts';
import { MAX_ERASURE_REASON } from '../domain/erasure.ts';
import { instantSchema, subjectSchema, terminationFields } from '../intake/termination-schema.ts';

export const listQuery = z
  .object({
    state: z.enum(TERMINATION_STATES).optional(),
    /** `true`: only terminations with a failed task now (what DeprovisiondFailedTasksUnresolved counts), in any state. */
    failedTasks: z.enum(['true', 'false']).optional(),
    /** A subject key (`ext:E1`, `user:a@x.com`, `email:a@x.com`) or a raw identifier. */
    subject: z.string().trim().min(1).max(330).optional(),
    /** Requested at or after (ISO 8601). */
    since: instantSchema.optional(),
    /** Requested before (ISO 8601). */
    until: instantSchema.optional(),
    /** The channel the termination came in through first. */
    source: z.enum(['scim', 'webhook', 'admin'] as const satisfies readonly TerminationSource[]).optional(),
    /**
     * Text in the subject's user name, external id, display name or an email, or in the
     * termination id; ASCII case ignored, `%` and `_` literal. Bounded: every row is read to match it.
     */
    q: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .regex(/^[^\p{Cc}]+$/u, 'no control characters')
      .optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    /** `nextCursor` of the previous page. */
    cursor: z.string().min(1).max(512).optional(),
  })
  .strict();

export const auditQuery = z
  .object({
    /** Chain position to read after (exclusive): 0 for the start, then the previous page's `nextAfter`. */
    after: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  })
  .strict();

export const evidenceQuery = z
  .object({
    /** `html`: a printable page. Default JSON. */
    format: z.enum(['json', 'html']).optional(),
    /** `true`: sent as a file to save (`Content-Disposition: attachment`), named after the termination. */
    download: z.enum(['true', 'false']).optional(),
  })
  .strict();

export const createQuery = z.object({ dryRun: z.enum(['true', 'false']).optional() }).strict();

export const createBody = z
  .object({
    ...terminationFields,
    /** Plan only: answer with the tasks this termination would get, write nothing. */
    dryRun: z.boolean().optional(),
    /**
     * Replace the subject's open termination (its unrun tasks are cancelled, audited as
     * `termination.superseded`) instead of a 409 when it runs another playbook. Operators only.
     */
    supersede: z.boolean().optional(),
  })
  .strict();

export const cancelBody = z.object({ reason: z.string().trim().min(1).max(1000).optional() }).strict();

export const completeBody = z
  .object({
    outcome: z.enum(['done', 'not_applicable']),
    reason: z.string().trim().min(1).max(1000),
  })
  .strict();

/** Settling a failed task without running it: who is recorded from the token, why must be said. */
export const waiveBody = z.object({ reason: z.string().trim().min(1).max(1000) }).strict();

/** Bulk approval names the terminations, or says `all: true` (every held one, at most 1000 a call). */
export const approveHeldBody = z.union([
  z.object({ ids: z.array(z.string().min(1).max(100)).min(1).max(1000) }).strict(),
  z.object({ all: z.literal(true) }).strict(),
]);

/**
 * Optional `Idempotency-Key` header of POST /terminations: the source event id of an admin
 * request. The same key with the same body gets the earlier answer; with another body, 409.
 */
export const idempotencyKey = z.string().trim().min(1).max(256).optional();

/** A legal hold is placed on a subject (any identifier of theirs) or on one termination, never both. */
export const holdBody = z.union([
  z.object({ subject: subjectSchema, reason: z.string().trim().min(1).max(MAX_HOLD_REASON) }).strict(),
  z.object({ terminationId: z.string().trim().min(1).max(100), reason: z.string().trim().min(1).max(MAX_HOLD_REASON) }).strict(),
]);

export const releaseBody = z.object({ reason: z.string().trim().min(1).max(MAX_HOLD_REASON) }).strict();

export const holdsQuery = z.object({ active: z.enum(['true', 'false']).optional() }).strict();

/** An erasure names why (kept in the audit log and the receipt). */
export const erasureBody = z.object({ reason: z.string().trim().min(1).max(MAX_ERASURE_REASON) }).strict();

/** An erasure of every termination on record for a subject (any identifier of theirs). */
export const subjectErasureBody = z.object({ subject: subjectSchema, reason: z.string().trim().min(1).max(MAX_ERASURE_REASON) }).strict();

/** A right-to-erasure request from a privacy tool: carried out when the records' retention allows. */
export const erasureRequestBody = z
  .object({
    subject: subjectSchema,
    /** The privacy tool or person that asks. */
    requestedBy: z.string().trim().min(1).max(200),
    /** The request's reference in that tool (a ticket number). */
    reference: z.string().trim().min(1).max(200),
  })
  .strict();
