import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';

/**
 * The audit chain is linked after the fact (invariant 6): an entry is inserted with its
 * fields only, in the transaction of the change it records, and the linker later gives it
 * its place in the chain (`chain_pos`) and its hash. So `prev_hash` and `hash` become
 * nullable, and `chain_pos` is new: on PostgreSQL `seq` comes from a sequence and commits
 * out of order, so the chain's order is the order of linking, not of `seq`.
 *
 * Entries written before this migration were linked under a lock in `seq` order, so their
 * position is their `seq`. The anchor's `seq` was the last pruned entry's position too, and
 * is renamed for what it is.
 */
export const auditLinker: Migration = {
  async up(db: Kysely<any>) {
    if (db.getExecutor().adapter instanceof PostgresAdapter) {
      await db.schema.alterTable('audit_log').addColumn('chain_pos', 'bigint').execute();
      await sql`update audit_log set chain_pos = seq`.execute(db);
      await sql`alter table audit_log alter column prev_hash drop not null, alter column hash drop not null`.execute(db);
      await sql`alter table audit_log add constraint audit_log_linked_together check (${LINKED_TOGETHER})`.execute(db);
    } else {
      // SQLite cannot drop NOT NULL: the table is rebuilt (same columns, same seq values and counter).
      await db.schema
        .createTable('audit_log_linked')
        .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('termination_id', 'text')
        .addColumn('task_id', 'text')
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text')
        .addColumn('hash', 'text')
        .addColumn('chain_pos', 'bigint')
        .addCheckConstraint('audit_log_linked_together', LINKED_TOGETHER)
        .execute();
      await sql`insert into audit_log_linked (seq, at, actor, action, termination_id, task_id, data, prev_hash, hash, chain_pos)
                select seq, at, actor, action, termination_id, task_id, data, prev_hash, hash, seq from audit_log`.execute(db);
      await db.schema.dropTable('audit_log').execute();
      await sql`alter table audit_log_linked rename to audit_log`.execute(db);
      await db.schema.createIndex('audit_log_termination').on('audit_log').columns(['termination_id', 'seq']).execute();
    }
    // One entry per position: a second linker (a bug, a split brain) fails instead of forking the chain.
    await db.schema.createIndex('audit_log_chain_pos').unique().on('audit_log').column('chain_pos').execute();
    // What the linker looks for: entries not linked yet, in seq order, without reading the linked ones.
    await db.schema.createIndex('audit_log_unlinked').on('audit_log').column('seq').where(sql.ref('chain_pos'), 'is', null).execute();
    await db.schema.alterTable('audit_anchor').renameColumn('seq', 'chain_pos').execute();
  },
};

/**
 * A linked entry has its hashes. An unlinked one may carry hashes too: a replica of the
 * previous version, still running during a rolling upgrade, computes them under its old
 * lock; the linker overwrites them when it links the entry, so such rows join the chain
 * like any other instead of failing their writers' transactions.
 */
const LINKED_TOGETHER = sql`chain_pos is null or (prev_hash is not null and hash is not null)`;
