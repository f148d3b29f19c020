/**
 * What an erased termination's subject reads as. Derived from the termination id alone
 * (ours, not the person's), so the evidence, the audit log and the receipt name the same
 * pseudonym, and nothing about the person can be recovered from it.
 */
import { createHmac } from 'node:crypto';

/** A fixed key: the input is not personal data, the HMAC only keeps the pseudonym from looking like the id. */
const PSEUDONYM_KEY = 'deprovisiond/pseudonym/v1';

export function pseudonymOf(terminationId: string): string {
  return `subject-${createHmac('sha256', PSEUDONYM_KEY).update(terminationId).digest('hex').slice(0, 16)}`;
}
