import type { Kysely, Migration } from 'kysely';

/**
 * Legal holds (src/domain/legal-hold.ts): kept after release, so the record of who held
 * what, when and why survives with the audit log. A subject hold covers every subject key
 * the person could be filed under (HRIS id, user name, each email): one row each in
 * `legal_hold_subjects`, so the queue matches a termination's key by index.
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
      .addPrimaryKeyConstraint('legal_hold_subjects_pk', ['hold_id', 'subject_key'])
      .execute();
    await db.schema.createIndex('legal_hold_subjects_key').on('legal_hold_subjects').columns(['subject_key']).execute();
  },
};
