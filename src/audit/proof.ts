/**
 * What proves a task, said honestly for an auditor: only a provider read after the write
 * counts as "verified by read-back". A person's word (manual step), a receiver's
 * acknowledgement (notify, CAEP: no read API), a read the provider cannot offer (Google's
 * users.signOut), a command the provider accepted but its target has not carried out yet
 * (a device wipe) and an operator's waiver are each named for what they are. A destructive
 * step a legal hold keeps from running says so, with the hold, rather than "not finished".
 */
import { holdsKeeping, type LegalHold } from '../domain/legal-hold.ts';
import { type JsonObject, type JsonValue, type Task, type TaskAttempt } from '../domain/types.ts';
import type { AuditEntry } from '../store/store.ts';
import { waitingFor } from '../domain/waiting.ts';

export const PROOF_KINDS = [
  'verified_by_read_back',
  'attested',
  'acknowledged_by_receiver',
  'not_verifiable',
  'requested',
  'waived',
  'failed',
  'skipped',
  'cancelled',
  'held_by_legal_hold',
  'not_finished',
] as const;
export type ProofKind = (typeof PROOF_KINDS)[number];

export interface Proof {
  kind: ProofKind;
  /** The sentence printed beside the task. */
  label: string;
  /** The person behind an attestation or a waiver. */
  by: string | null;
  /** The reason that person gave. */
  reason: string | null;
}

/**
 * How an adapter marks, in its verify evidence, a command the provider accepted and reads back
 * as pending at its target: `wipe: 'requested: 1 device has not acknowledged the wipe yet'`.
 */
export const REQUESTED_PREFIX = 'requested:';

/** True when a read-back (a verify's evidence) still shows a command pending at its target. */
export function showsPendingRequest(read: JsonObject): boolean {
  return Object.values(read).some((v) => typeof v === 'string' && v.startsWith(REQUESTED_PREFIX));
}

/** A recorded value as text: strings as they are, other JSON as JSON (never "[object Object]"). */
const text = (value: JsonValue | undefined, fallback: string) =>
  typeof value === 'string' ? value : value === undefined || value === null ? fallback : JSON.stringify(value);

const fields = (value: JsonObject) =>
  Object.entries(value)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(', ');

/**
 * `audit` is the termination's entries: a waiver's actor and reason live there. `holds` are
 * the legal holds covering the termination, released ones included (only those in force count).
 */
export function proofOf(task: Task, audit: AuditEntry[], holds: readonly LegalHold[] = []): Proof {
  const evidence = task.evidence ?? {};
  switch (task.state) {
    case 'waived': {
      // The waiver's own record on the task, else its audit entry.
      const entry = audit.filter((e) => e.action === 'task.waived' && e.taskId === task.id).at(-1);
      const by = typeof evidence.waivedBy === 'string' ? evidence.waivedBy : (entry?.actor ?? null);
      const reason = typeof evidence.reason === 'string' ? evidence.reason : entry ? text(entry.data.reason, '') : 'no reason found';
      return { kind: 'waived', label: `waived by ${by ?? 'unknown'}: ${reason}`, by, reason };
    }
    case 'failed':
      return {
        kind: 'failed',
        label: `failed: ${task.lastError ? `${task.lastError.kind}: ${task.lastError.message}` : 'no error recorded'}`,
        by: null,
        reason: null,
      };
    case 'skipped':
      return { kind: 'skipped', label: `skipped: ${text(evidence.skipped, 'no reason recorded')}`, by: null, reason: null };
    case 'cancelled':
      return { kind: 'cancelled', label: 'cancelled before it ran to the end', by: null, reason: null };
    case 'pending':
    case 'running': {
      const keeping = holdsKeeping(task, holds);
      if (keeping.length > 0) return heldProof(keeping);
      // What an asynchronous step waits for (money owed, a transfer), as its adapter said it.
      const waiting = waitingFor(task.checkpoint);
      return { kind: 'not_finished', label: `not finished (${task.state})${waiting ? `: ${waiting}` : ''}`, by: null, reason: null };
    }
    case 'succeeded':
      return succeeded(task, evidence);
  }
}

/** The holds' placers and reasons, each once: one hold reads "held by legal hold <id> (<reason>)". */
function heldProof(keeping: LegalHold[]): Proof {
  return {
    kind: 'held_by_legal_hold',
    label: keeping.map((h) => `held by legal hold ${h.id} (${h.reason})`).join('; '),
    by: [...new Set(keeping.map((h) => h.placedBy))].join(', '),
    reason: keeping.map((h) => h.reason).join('; '),
  };
}

function succeeded(task: Task, evidence: JsonObject): Proof {
  if (task.action === 'manual') {
    const by = text(evidence.completedBy, 'unknown');
    const outcome = evidence.outcome === 'not_applicable' ? ' as not applicable' : '';
    const reason = text(evidence.reason, '');
    return { kind: 'attested', label: `attested by ${by}${outcome}: ${reason}`, by, reason };
  }
  const read = (evidence.verify as JsonObject | undefined) ?? evidence;
  // Pushes say so in their verify evidence (providers/notify, providers/caep): `readBack: 'none: …'`.
  if ((typeof read.readBack === 'string' && read.readBack.startsWith('none')) || 'acknowledgedBy' in read || 'acknowledgedWith' in read) {
    // The label already says there is no read: the receiver's answer is what is left to show.
    const { readBack: _said, ...answer } = read;
    return {
      kind: 'acknowledged_by_receiver',
      label: `acknowledged by the receiver (no read API): ${fields(answer)}`,
      by: null,
      reason: null,
    };
  }
  // A command the provider accepted and shows pending, not yet carried out by its target (a
  // device wipe the device has not acknowledged): the read-back proves the request, no more.
  const pending = Object.entries(read).filter(([, v]) => typeof v === 'string' && v.startsWith(REQUESTED_PREFIX));
  if (pending.length > 0) {
    const rest: JsonObject = Object.fromEntries(Object.entries(read).filter(([k]) => !pending.some(([p]) => p === k)));
    const what = pending.map(([k, v]) => `${k}: ${text(v, '').slice(REQUESTED_PREFIX.length).trim()}`).join('; ');
    return {
      kind: 'requested',
      label: `requested, not yet acknowledged (${what})${Object.keys(rest).length > 0 ? `; read back: ${fields(rest)}` : ''}`,
      by: null,
      reason: null,
    };
  }
  // An adapter names the part of an action no provider read can show (Google: users.signOut).
  const unreadable = Object.entries(read).filter(([, v]) => typeof v === 'string' && v.startsWith('not verifiable'));
  if (unreadable.length > 0) {
    const rest: JsonObject = Object.fromEntries(Object.entries(read).filter(([k]) => !unreadable.some(([u]) => u === k)));
    const what = unreadable.map(([k, v]) => `${k}: ${text(v, '').replace(/^not verifiable:\s*/, '')}`).join('; ');
    return {
      kind: 'not_verifiable',
      label: `not verifiable (${what})${Object.keys(rest).length > 0 ? `; read back: ${fields(rest)}` : ''}`,
      by: null,
      reason: null,
    };
  }
  return { kind: 'verified_by_read_back', label: `verified by read-back: ${fields(read)}`, by: null, reason: null };
}

/**
 * Which run each attempt belongs to. A replay restarts a task's attempt count at 1, so
 * "attempt 1" alone is ambiguous: run 1 is the first, run n+1 starts at the n-th
 * `task.replayed` entry, and an attempt belongs to the last run begun before it started.
 */
export function runsOf(task: Task, attempts: TaskAttempt[], audit: AuditEntry[]) {
  const replays = audit.filter((e) => e.action === 'task.replayed' && e.taskId === task.id).sort((a, b) => a.at.getTime() - b.at.getTime());
  const runs = [
    { run: 1, startedBy: 'the termination', at: null as string | null },
    ...replays.map((e, i) => ({ run: i + 2, startedBy: `replay by ${e.actor}`, at: e.at.toISOString() })),
  ];
  const attemptsWithRun = attempts
    .filter((a) => a.taskId === task.id)
    .sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime())
    .map((a) => {
      const run = 1 + replays.filter((r) => r.at.getTime() <= a.startedAt.getTime()).length;
      return {
        attempt: a,
        run,
        label: runs.length > 1 ? `run ${run} (${runs[run - 1]!.startedBy}), attempt ${a.attempt}` : `attempt ${a.attempt}`,
      };
    });
  return { runs, attempts: attemptsWithRun };
}

/** When a task first ran (its first attempt), for ordering tasks as they ran; null if it never ran. */
export function firstRanAt(task: Task, attempts: TaskAttempt[]): number | null {
  const starts = attempts.filter((a) => a.taskId === task.id).map((a) => a.startedAt.getTime());
  if (starts.length > 0) return Math.min(...starts);
  return task.startedAt?.getTime() ?? task.finishedAt?.getTime() ?? null;
}

/**
 * A `requested` proof whose acknowledgement a later re-verification read back (the device
 * carried the wipe out): the label keeps both times, the request's and the read that saw it done.
 */
export function acknowledgedProof(proof: Proof, requestedAt: string | null, ack: { at: string; readBack: JsonObject }): Proof {
  return {
    ...proof,
    label: `requested at ${requestedAt ?? 'an unrecorded time'}, acknowledged by the device at ${ack.at} (re-verification): ${fields(ack.readBack)}`,
  };
}
