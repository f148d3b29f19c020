/**
 * A `notify` step's params on the email channel and the addresses they name. Params come from
 * config, contacts from the subject (an HRIS or admin body): both are checked before anything
 * is sent, and a contact entry that is not a plain address is left out, never passed on.
 */
import { z } from 'zod';
import type { JsonObject, Subject } from '../../src/domain/types.ts';
import { PermanentError } from '../contract.ts';
import { ADDRESS, type EmailConfig } from './config.ts';

const paramsSchema = z.looseObject({
  /** The template's name; a step without one uses its `event` (as the notify provider's steps do). */
  template: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,63}$/)
    .optional(),
  event: z.string().optional(),
  /** `contacts`: the client's contact addresses; `accountOwner`: the config's; or a list of addresses. */
  to: z.union([z.literal('contacts'), z.literal('accountOwner'), z.array(z.string().max(254).regex(ADDRESS)).min(1).max(500)]),
});

export interface EmailStep {
  template: string;
  to: 'contacts' | 'accountOwner' | 'listed';
  recipients: string[];
}

/** The step's template and recipients; a PermanentError names what is wrong. */
export function emailStep(params: JsonObject, subject: Subject, config: EmailConfig): EmailStep {
  const parsed = paramsSchema.safeParse(params);
  if (!parsed.success)
    throw new PermanentError(
      `email step params: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'params'}: ${i.message}`).join('; ')}`,
    );
  const template = parsed.data.template ?? parsed.data.event;
  if (template === undefined) throw new PermanentError('email step params: name a template (template: started)');
  const { to } = parsed.data;
  // A client without contacts is skipped by the adapter; an internal message with nobody to tell is a config error.
  if (to === 'accountOwner' && config.accountOwner.length === 0)
    throw new PermanentError('email step: to: accountOwner, but the provider names no accountOwner');
  const listed = to === 'contacts' ? contactsOf(subject) : to === 'accountOwner' ? config.accountOwner : to;
  const recipients = [...new Set(listed.map((a) => a.toLowerCase()))];
  if (recipients.length > config.maxRecipients)
    throw new PermanentError(`email step: ${recipients.length} recipients, more than maxRecipients (${config.maxRecipients})`);
  return { template, to: Array.isArray(to) ? 'listed' : to, recipients };
}

/**
 * `subject.organization.contacts`: a list of addresses, or of objects with an `email`; read by
 * own properties only. Entries that are not plain addresses are dropped.
 */
export function contactsOf(subject: Subject): string[] {
  const organization = (subject as { organization?: unknown }).organization;
  if (typeof organization !== 'object' || organization === null || !Object.hasOwn(organization, 'contacts')) return [];
  const contacts = (organization as { contacts?: unknown }).contacts;
  if (!Array.isArray(contacts)) return [];
  const out: string[] = [];
  for (const entry of contacts.slice(0, 1_000) as unknown[]) {
    const value: unknown =
      typeof entry === 'object' && entry !== null && Object.hasOwn(entry, 'email') ? (entry as { email?: unknown }).email : entry;
    if (typeof value === 'string' && value.length <= 254 && ADDRESS.test(value)) out.push(value);
  }
  return out;
}
