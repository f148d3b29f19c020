import type { Kysely, Migration } from 'kysely';
import { keyListOf } from '../../domain/subject.ts';
import type { Subject } from '../../domain/types.ts';

/**
 * Legal holds (src/domain/legal-hold.ts): kept after release, so the record of who held
 * what, when and why survives with the audit log. A subject hold covers every subject key
 * the person could be filed under (HRIS id, user name, each email): one row each in
 * `legal_hold_subjects`, with the LIKE pattern that finds it in a termination's
 * `subject_keys` (every key that termination's subject forms, as a JSON array): a hold placed
 * by email covers a later termination filed under the HRIS id.
 */
export const legalHolds: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('legal_holds')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('subject', 'text')
      .addColumn('termination_id', 'text', (c) => c.references('terminations.id'))
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('placed_by', 'text', (c) => c.notNull())
      .addColumn('placed_at', 'bigint', (c) => c.notNull())
      .addColumn('released_by', 'text')
      .addColumn('released_at', 'bigint')
      .addColumn('release_reason', 'text')
      .execute();
    await db.schema.createIndex('legal_holds_termination').on('legal_holds').columns(['termination_id', 'released_at']).execute();
    await db.schema
      .createTable('legal_hold_subjects')
      .addColumn('hold_id', 'text', (c) => c.notNull().references('legal_holds.id'))
      .addColumn('subject_key', 'text', (c) => c.notNull())
      .addColumn('pattern', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('legal_hold_subjects_pk', ['hold_id', 'subject_key'])
      .execute();
    await db.schema.createIndex('legal_hold_subjects_key').on('legal_hold_subjects').columns(['subject_key']).execute();
    await db.schema.alterTable('terminations').addColumn('subject_keys', 'text').execute();
    // Terminations on record get their keys too: a hold must cover them as it covers new ones.
    for (;;) {
      const rows = await db.selectFrom('terminations').select(['id', 'subject']).where('subject_keys', 'is', null).limit(500).execute();
      if (rows.length === 0) break;
      for (const row of rows) {
        const list = keyListOf(JSON.parse(row.subject as string) as Subject);
        await db.updateTable('terminations').set({ subject_keys: list }).where('id', '=', row.id).execute();
      }
    }
  },
};
