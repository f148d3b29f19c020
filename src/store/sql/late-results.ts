/**
 * Honest records under takeover. An attempt can succeed at the provider and still lose its
 * lease before its result is written (a frozen or stalled replica); the task's next holder
 * then finds the account gone and would report "no account here". Both attempts are on
 * record, and together they say what happened: the work was done by attempt N and
 * confirmed by attempt N+1. Whichever of the two results arrives second writes that.
 */
import type { JsonObject } from '../../domain/types.ts';
import { openedJson, SEALED, sealedJson } from '../rows.ts';
import type { Tx } from './context.ts';
import type { RecordKeys } from './personal-data.ts';

/** Where a task's record is sealed: its termination's data key (personal-data.ts). */
export interface TaskRecordKeys {
  terminationId: string;
  keys: RecordKeys;
}

/** A result this task had discarded although it succeeded: the latest such attempt, if any. */
export async function discardedSuccess(
  trx: Tx,
  taskId: string,
  record: TaskRecordKeys,
): Promise<{ attempt: number; evidence: JsonObject } | null> {
  const row = await trx
    .selectFrom('task_attempts')
    .select(['attempt', 'evidence'])
    .where('task_id', '=', taskId)
    .where('outcome', '=', 'succeeded')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!row) return null;
  return { attempt: row.attempt, evidence: openedJson(record.keys, record.terminationId, SEALED.attemptEvidence, row.evidence) ?? {} };
}

/** The evidence of a task done by one attempt whose result came late, confirmed by another that found no account. */
export function doneThenConfirmed(
  done: { attempt: number; evidence: JsonObject },
  confirmed: { attempt: number; evidence: JsonObject | null },
): JsonObject {
  return {
    ...done.evidence,
    doneByAttempt: done.attempt,
    confirmedAbsentByAttempt: confirmed.attempt,
    confirmation: confirmed.evidence ?? {},
    note: `attempt ${done.attempt} did the work and read it back, but its result arrived after its lease had passed to another worker; attempt ${confirmed.attempt} found the account gone`,
  };
}

/**
 * A late success of a task already recorded as skipped for want of an account: the record
 * becomes the success, confirmed by the skip. Returns the evidence written, or null when
 * the task is in any other state (then the late result changes nothing).
 */
export async function upgradeSkippedByLateSuccess(
  trx: Tx,
  taskId: string,
  late: { attempt: number; evidence: JsonObject; account: JsonObject | null },
  now: number,
  { terminationId, keys }: TaskRecordKeys,
): Promise<JsonObject | null> {
  const task = await trx
    .selectFrom('tasks')
    .select(['attempts', 'evidence'])
    .where('id', '=', taskId)
    .where('state', '=', 'skipped')
    .where('account', 'is', null)
    .executeTakeFirst();
  if (!task) return null;
  const evidence = doneThenConfirmed(
    { attempt: late.attempt, evidence: late.evidence },
    { attempt: task.attempts, evidence: openedJson(keys, terminationId, SEALED.evidence, task.evidence) },
  );
  const updated = await trx
    .updateTable('tasks')
    .set({
      state: 'succeeded',
      evidence: sealedJson(keys, terminationId, SEALED.evidence, evidence),
      account: sealedJson(keys, terminationId, SEALED.account, late.account),
      updated_at: now,
    })
    .where('id', '=', taskId)
    .where('state', '=', 'skipped')
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) > 0 ? evidence : null;
}
