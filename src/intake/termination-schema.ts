/**
 * The JSON shape of a termination request, shared by the webhook and the admin API, so
 * one subject is described the same way whichever door it comes through.
 */
import { z } from 'zod';
import { InvalidSubjectError } from '../domain/subject.ts';
import type { Organization, Subject } from '../domain/types.ts';
import { BadRequestError } from '../server/http-errors.ts';
import { UnknownPlaybookError, type TerminationPlan, type TerminationService } from './termination-service.ts';

const identifier = z.string().trim().min(1).max(256);

/**
 * A DNS host name of at least two labels (RFC 1123 letters, digits, hyphens; no leading or
 * trailing hyphen), lower-cased: a member matches by the part of their email after `@`.
 */
const hostname = z
  .string()
  .trim()
  .max(253)
  .toLowerCase()
  .regex(/^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/, 'expected a host name such as client.example');

/** A tenant key at one provider: printable, no control characters (it goes into provider queries, quoted). */
const tenantKey = z
  .string()
  .trim()
  .min(1)
  .max(256)
  // Control characters are checked by code point: a regex range of them reads as a mistake to linters and people alike.
  .refine((v) => Array.from({ length: v.length }, (_, i) => v.charCodeAt(i)).every((c) => c >= 0x20 && c !== 0x7f), {
    error: 'expected printable text',
  })
  .regex(/^[^"\\]+$/, 'expected text without quotes or backslashes');

export const organizationSchema = z
  .object({
    id: identifier,
    name: z.string().max(256).optional(),
    domains: z
      .array(hostname)
      .min(1)
      .max(50)
      .refine((d) => new Set(d).size === d.length, { error: 'expected each domain once' }),
    tenants: z.object({ entra: tenantKey.optional(), okta: tenantKey.optional(), scim: tenantKey.optional() }).strict().optional(),
    contacts: z.array(z.email().max(320)).max(20).optional(),
  })
  .strict();

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
    /** A client organization offboarded as a whole (docs/customer-offboarding.md). */
    organization: organizationSchema.optional(),
  })
  .strict()
  // The same rule as subjectKey(): one identifier is enough, none is not.
  .refine((s) => Boolean(s.externalId) || Boolean(s.userName) || s.emails.length > 0 || s.organization !== undefined, {
    error: 'expected at least one identifier: externalId, userName, emails or organization',
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
  if (input.organization !== undefined) {
    subject.organization = toOrganization(input.organization);
    // Notifications and evidence name a subject by its displayName: the client's, not "unknown subject".
    subject.displayName ??= input.organization.name ?? `organization ${input.organization.id}`;
  }
  return subject;
}

function toOrganization(input: z.infer<typeof organizationSchema>): Organization {
  const organization: Organization = { id: input.id, domains: input.domains };
  if (input.name !== undefined) organization.name = input.name;
  if (input.contacts !== undefined) organization.contacts = input.contacts;
  if (input.tenants !== undefined) {
    const tenants: NonNullable<Organization['tenants']> = {};
    if (input.tenants.entra !== undefined) tenants.entra = input.tenants.entra;
    if (input.tenants.okta !== undefined) tenants.okta = input.tenants.okta;
    if (input.tenants.scim !== undefined) tenants.scim = input.tenants.scim;
    organization.tenants = tenants;
  }
  return organization;
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
