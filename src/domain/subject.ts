/** Subject identity: one normalised key per person, so two deliveries for the same person meet. */
import type { Subject } from './types.ts';

export class InvalidSubjectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidSubjectError';
  }
}

/**
 * The HRIS id wins when present (it survives a name change); otherwise the userName, then
 * the first email, both case-insensitive as SCIM treats userName.
 */
export function subjectKey(subject: Subject): string {
  // An organization is one subject whatever else names it: its people are not the subject.
  if (subject.organization) return organizationKey(subject.organization.id);
  if (subject.externalId?.trim()) return `ext:${subject.externalId.trim()}`;
  if (subject.userName?.trim()) return `user:${subject.userName.trim().toLowerCase()}`;
  const email = subject.emails.find((e) => e.trim());
  if (email) return `email:${email.trim().toLowerCase()}`;
  throw new InvalidSubjectError('the subject needs at least one identifier: externalId, userName or an email');
}

/**
 * Every key a subject could be filed under, whichever identifier a delivery led with
 * (subjectKey picks one): what a legal hold on the person must cover.
 */
export function keysOf(subject: Subject): string[] {
  const keys = new Set<string>();
  if (subject.organization) keys.add(organizationKey(subject.organization.id));
  if (subject.externalId?.trim()) keys.add(`ext:${subject.externalId.trim()}`);
  if (subject.userName?.trim()) keys.add(`user:${subject.userName.trim().toLowerCase()}`);
  for (const email of subject.emails) if (email.trim()) keys.add(`email:${email.trim().toLowerCase()}`);
  return [...keys];
}

/**
 * Every key one identifier could be filed under, whatever kind it is: the HRIS id of one
 * record may be the user name or email of another (case ignored where SCIM ignores it).
 */
export function keysOfIdentifier(identifier: string): string[] {
  const lower = identifier.toLowerCase();
  return [`ext:${identifier}`, `user:${lower}`, `email:${lower}`];
}

/** The key of a client organization: `org:<id>`, the id as given (ours, not a person's name). */
export function organizationKey(id: string): string {
  const trimmed = id.trim();
  if (!trimmed) throw new InvalidSubjectError('the organization needs an id');
  return `org:${trimmed}`;
}

/**
 * Every key of the subject as a JSON array (stored with each termination): a legal hold finds
 * a key in it with `likePatternOf`; JSON's quoting makes a match a whole key, never a part.
 */
export function keyListOf(subject: Subject): string {
  return JSON.stringify(keysOf(subject));
}

/** The LIKE pattern (escape character `\`) that finds `key` as a whole element of a `keyListOf` list. */
export function likePatternOf(key: string): string {
  return `%${JSON.stringify(key).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
