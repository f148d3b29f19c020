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
  if (subject.externalId?.trim()) keys.add(`ext:${subject.externalId.trim()}`);
  if (subject.userName?.trim()) keys.add(`user:${subject.userName.trim().toLowerCase()}`);
  for (const email of subject.emails) if (email.trim()) keys.add(`email:${email.trim().toLowerCase()}`);
  return [...keys];
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
