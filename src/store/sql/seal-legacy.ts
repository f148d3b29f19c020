/**
 * Records written before migration 0016 hold personal data in clear and file subjects under
 * their plain keys. At start, after the migrations, each such termination gets its data key
 * and its rows are sealed and indexed as new ones are (personal-data.ts), one termination per
 * transaction; legal holds likewise. Idempotent: a sealed record is not picked again, so a
 * start interrupted half-way finishes at the next. Audit entries stay as they were chained:
 * rewriting them would break the chain (docs/privacy.md says what that leaves).
 */
import { sql } from 'kysely';
import { keysOf, likePatternOf } from '../../domain/subject.ts';
import type { Subject } from '../../domain/types.ts';
import { SEALED } from '../rows.ts';
import type { StoreContext, Tx } from './context.ts';
import { HOLD_SUBJECT } from './legal-holds.ts';
import type { RecordKeys } from './personal-data.ts';

const BATCH = 100;
const NOT_SEALED = sql<boolean>`subject not like 'pd1:%'`;

export async function sealLegacyRecords(ctx: StoreContext): Promise<{ terminations: number; holds: number }> {
  let terminations = 0;
  for (;;) {
    const ids = await ctx.db
      .selectFrom('terminations')
      .select('id')
      .where(NOT_SEALED)
      // An erased termination's subject is its pseudonym, in clear on purpose (erasure.ts).
      .where(sql.ref('erased_at'), 'is', null)
      .limit(BATCH)
      .execute();
    if (ids.length === 0) break;
    for (const { id } of ids) await ctx.db.transaction().execute((trx) => sealTermination(ctx, trx, id));
    terminations += ids.length;
  }
  let holds = 0;
  for (;;) {
    const rows = await ctx.db
      .selectFrom('legal_holds')
      .select('id')
      .where('subject', 'is not', null)
      .where(NOT_SEALED)
      .limit(BATCH)
      .execute();
    if (rows.length === 0) break;
    for (const { id } of rows) await ctx.db.transaction().execute((trx) => sealHold(ctx, trx, id));
    holds += rows.length;
  }
  return { terminations, holds };
}

async function sealTermination(ctx: StoreContext, trx: Tx, id: string): Promise<void> {
  const { personal } = ctx;
  const row = await trx
    .selectFrom('terminations')
    .selectAll()
    .where('id', '=', id)
    .where(NOT_SEALED)
    .where(sql.ref('erased_at'), 'is', null)
    .executeTakeFirst();
  if (!row) return;
  const subject = JSON.parse(row.subject) as Subject;
  const keys = await personal.create(trx, [id], ctx.clock().getTime());
  const json = (field: string, text: string | null) => (text === null ? null : keys.seal(id, field, text));
  await trx
    .updateTable('terminations')
    .set({
      subject: keys.seal(id, SEALED.subject, row.subject),
      reason: json(SEALED.reason, row.reason),
      subject_key: personal.index(row.subject_key),
      subject_keys: JSON.stringify(keysOf(subject).map((k) => personal.index(k))),
    })
    .where('id', '=', id)
    .execute();
  for (const task of await trx
    .selectFrom('tasks')
    .select(['id', 'account', 'evidence', 'last_error'])
    .where('termination_id', '=', id)
    .execute()) {
    await trx
      .updateTable('tasks')
      .set({
        account: json(SEALED.account, task.account),
        evidence: json(SEALED.evidence, task.evidence),
        last_error: json(SEALED.lastError, task.last_error),
      })
      .where('id', '=', task.id)
      .execute();
  }
  for (const attempt of await trx
    .selectFrom('task_attempts')
    .select(['id', 'evidence', 'error_message'])
    .where('termination_id', '=', id)
    .execute()) {
    await trx
      .updateTable('task_attempts')
      .set({ evidence: json(SEALED.attemptEvidence, attempt.evidence), error_message: json(SEALED.attemptError, attempt.error_message) })
      .where('id', '=', attempt.id)
      .execute();
  }
  await sealReverifications(trx, id, keys);
}

async function sealReverifications(trx: Tx, id: string, keys: RecordKeys): Promise<void> {
  const rows = await trx
    .selectFrom('reverifications')
    .select(['id', 'evidence'])
    .where('termination_id', '=', id)
    .where('evidence', 'is not', null)
    .execute();
  for (const row of rows) {
    await trx
      .updateTable('reverifications')
      .set({ evidence: keys.seal(id, SEALED.reverificationEvidence, row.evidence!) })
      .where('id', '=', row.id)
      .execute();
  }
}

async function sealHold(ctx: StoreContext, trx: Tx, id: string): Promise<void> {
  const { personal } = ctx;
  const row = await trx.selectFrom('legal_holds').select(['subject']).where('id', '=', id).where(NOT_SEALED).executeTakeFirst();
  if (!row?.subject) return;
  const plain = (await trx.selectFrom('legal_hold_subjects').select('subject_key').where('hold_id', '=', id).execute()).map(
    (r) => r.subject_key,
  );
  const keys = await personal.create(trx, [id], ctx.clock().getTime());
  await trx
    .updateTable('legal_holds')
    .set({ subject: keys.sealJson(id, HOLD_SUBJECT, { subject: JSON.parse(row.subject) as Subject, keys: plain }) })
    .where('id', '=', id)
    .execute();
  await trx.deleteFrom('legal_hold_subjects').where('hold_id', '=', id).execute();
  if (plain.length > 0) {
    await trx
      .insertInto('legal_hold_subjects')
      .values(plain.map((k) => ({ hold_id: id, subject_key: personal.index(k), pattern: likePatternOf(personal.index(k)) })))
      .execute();
  }
}
