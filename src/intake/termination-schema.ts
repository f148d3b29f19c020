/**
 * The JSON shape of a termination request, shared by the webhook and the admin API, so
 * one subject is described the same way whichever door it comes through.
 */
import { z } from 'zod';
import { InvalidSubjectError } from '../domain/subject.ts';
import type { Subject } from '../domain/types.ts';
import { BadRequestError } from '../server/http-errors.ts';
import { UnknownPlaybookError, type TerminationPlan, type TerminationService } from './termination-service.ts';

const identifier = z.string().trim().min(1).max(256);

export const subjectSchema = z
  .object({
    externalId: identifier.optional(),
    userName: identifier.optional(),
    emails: z.array(z.email().max(320)).max(20).default([]),
    displayName: z.string().max(256).optional(),
    manager: z
      .object({ externalId: identifier.optional(), userName: identifier.optional(), email: z.email().max(320).optional() })
      .strict()
      .optional(),
  })
  .strict()
  // The same rule as subjectKey(): one identifier is enough, none is not.
  .refine((s) => Boolean(s.externalId) || Boolean(s.userName) || s.emails.length > 0, {
    error: 'expected at least one identifier: externalId, userName or emails',
  });

/** ISO 8601 with a zone (`Z` or an offset): a time without one means different instants to sender and daemon. */
export const instantSchema = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

export const terminationFields = {
  subject: subjectSchema,
  reason: z.string().max(1000).optional(),
  /** Defaults to now; a future time schedules the termination (notice period). */
  effectiveAt: instantSchema.optional(),
  /** Defaults to the config's defaultPlaybook. */
  playbook: z.string().min(1).max(128).optional(),
};

export function toSubject(input: z.infer<typeof subjectSchema>): Subject {
  const subject: Subject = { emails: input.emails };
  if (input.externalId !== undefined) subject.externalId = input.externalId;
  if (input.userName !== undefined) subject.userName = input.userName;
  if (input.displayName !== undefined) subject.displayName = input.displayName;
  if (input.manager !== undefined) {
    const manager: NonNullable<Subject['manager']> = {};
    if (input.manager.externalId !== undefined) manager.externalId = input.manager.externalId;
    if (input.manager.userName !== undefined) manager.userName = input.manager.userName;
    if (input.manager.email !== undefined) manager.email = input.manager.email;
    subject.manager = manager;
  }
  return subject;
}

/** The plan of a request, or a 400 naming the field that makes it impossible (unknown playbook, no identifier). */
export function checkPlan(terminations: TerminationService, request: Parameters<TerminationService['plan']>[0]): TerminationPlan {
  try {
    return terminations.plan(request);
  } catch (error) {
    if (error instanceof UnknownPlaybookError) throw new BadRequestError(`playbook: ${error.message}`);
    if (error instanceof InvalidSubjectError) throw new BadRequestError(`subject: ${error.message}`);
    throw error;
  }
}
