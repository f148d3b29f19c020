import { createHash } from 'node:crypto';

/**
 * The name an erased termination's subject goes by in evidence and listings: derived from
 * the termination's id (ours, random), so it names the record, never the person, and is
 * the same before and after erasure.
 */
export function pseudonymOf(terminationId: string): string {
  return `subject-${createHash('sha256').update(terminationId).digest('hex').slice(0, 16)}`;
}
