/**
 * The evidence of re-verifications (src/domain/reverify.ts) per task: when it was last read
 * back again, what that read showed, and every drift found since it was revoked.
 */
import type { Reverification } from '../domain/reverify.ts';
import type { JsonObject } from '../domain/types.ts';
import { showsPendingRequest } from './proof.ts';

export interface TaskReverifications {
  /** When the last finished re-verification read the provider, and what it found. */
  lastAt: string | null;
  lastOutcome: string | null;
  /** The last read-back that found access still gone (the provider's fields), or null. */
  lastHeldBy: JsonObject | null;
  /** Finished re-verifications, oldest first; pending ones are counted only. */
  history: Array<{ at: string; reason: string; outcome: string; evidence: JsonObject | null }>;
  pending: number;
  drifts: number;
}

export function reverificationsOf(taskId: string, all: readonly Reverification[]): TaskReverifications {
  const mine = all.filter((r) => r.taskId === taskId);
  const done = mine
    .filter(
      (r): r is Reverification & { finishedAt: Date; outcome: NonNullable<Reverification['outcome']> } =>
        r.state === 'done' && r.finishedAt !== null && r.outcome !== null,
    )
    .sort((a, b) => a.finishedAt.getTime() - b.finishedAt.getTime());
  const last = done.at(-1);
  const lastHeld = done.filter((r) => r.outcome === 'held').at(-1);
  return {
    lastAt: last ? last.finishedAt.toISOString() : null,
    lastOutcome: last?.outcome ?? null,
    lastHeldBy: (lastHeld?.evidence?.readBack as JsonObject | undefined) ?? null,
    history: done.map((r) => ({ at: r.finishedAt.toISOString(), reason: r.reason, outcome: r.outcome, evidence: r.evidence })),
    pending: mine.filter((r) => r.state !== 'done').length,
    drifts: done.filter((r) => r.outcome === 'drift').length,
  };
}

/**
 * When a command the task only requested (proof `requested`, e.g. a device wipe) was first
 * read back as carried out: the oldest re-verification that held and no longer shows it
 * pending, with what it read. Null while every read-back still shows it pending.
 */
export function acknowledgementOf(r: TaskReverifications): { at: string; readBack: JsonObject } | null {
  for (const entry of r.history) {
    if (entry.outcome !== 'held') continue;
    // A held re-verification records `{ readBack: { account, verify }, at }` (src/engine/reverifier.ts).
    const readBack = entry.evidence?.readBack;
    const verify = isObject(readBack) ? readBack.verify : undefined;
    if (isObject(verify) && !showsPendingRequest(verify)) return { at: entry.at, readBack: verify };
  }
  return null;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One line for the printable page. */
export function describeReverifications(r: TaskReverifications): string {
  if (!r.lastAt) return r.pending > 0 ? `Re-verification: ${r.pending} scheduled, none run yet.` : '';
  const drift = r.drifts > 0 ? ` Drift found ${r.drifts} time(s).` : '';
  return `Last re-verified at ${r.lastAt}: ${r.lastOutcome === 'held' ? 'still revoked (read back from the provider)' : (r.lastOutcome ?? 'unknown')}.${drift} ${r.pending} more scheduled.`;
}
