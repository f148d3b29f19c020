import { PostgresAdapter, sql, type ColumnDefinitionBuilder, type Kysely, type Migration } from 'kysely';

/** An auto-numbered primary key in either dialect (SQLite has no identity columns). */
function serialKey(db: Kysely<any>): ['serial' | 'integer', (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder] {
  return db.getExecutor().adapter instanceof PostgresAdapter
    ? ['serial', (c) => c.primaryKey()]
    : ['integer', (c) => c.primaryKey().autoIncrement()];
}

/** Terminations, tasks and their dependencies, attempts, and the audit chain. */
export const initial: Migration = {
  async up(db: Kysely<any>) {
    // bigint for epoch ms: PostgreSQL needs it past 2038-01-19 in seconds and now in ms.
    await db.schema
      .createTable('terminations')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('source_event_id', 'text')
      .addColumn('subject_key', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('playbook', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('requested_at', 'bigint', (c) => c.notNull())
      .addColumn('effective_at', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .addColumn('finished_at', 'bigint')
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('terminations_source_event')
      .on('terminations')
      .columns(['source', 'source_event_id'])
      .unique()
      .where(sql.ref('source_event_id'), 'is not', null)
      .execute();
    // At most one open termination per subject: the second delivery finds the first.
    await db.schema
      .createIndex('terminations_open_subject')
      .on('terminations')
      .column('subject_key')
      .unique()
      .where(sql.ref('state'), 'in', sql`('scheduled', 'held', 'running', 'failed')`)
      .execute();
    await db.schema.createIndex('terminations_state_requested').on('terminations').columns(['state', 'requested_at']).execute();
    await db.schema.createIndex('terminations_requested').on('terminations').columns(['requested_at', 'id']).execute();

    await db.schema
      .createTable('tasks')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('termination_id', 'text', (c) => c.notNull().references('terminations.id'))
      .addColumn('step_id', 'text', (c) => c.notNull())
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('params', 'text', (c) => c.notNull())
      .addColumn('critical', 'integer', (c) => c.notNull())
      .addColumn('not_before', 'bigint', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('rate_limited_count', 'integer', (c) => c.notNull())
      .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
      .addColumn('due_at', 'bigint', (c) => c.notNull())
      .addColumn('lease_owner', 'text')
      .addColumn('lease_expires_at', 'bigint')
      .addColumn('account', 'text')
      .addColumn('checkpoint', 'text')
      .addColumn('last_error', 'text')
      .addColumn('evidence', 'text')
      .addColumn('started_at', 'bigint')
      .addColumn('finished_at', 'bigint')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('tasks_termination_step', ['termination_id', 'step_id'])
      .execute();
    await db.schema.createIndex('tasks_due').on('tasks').columns(['state', 'provider', 'due_at']).execute();
    await db.schema.createIndex('tasks_lease').on('tasks').columns(['state', 'lease_expires_at']).execute();

    await db.schema
      .createTable('task_dependencies')
      .addColumn('task_id', 'text', (c) => c.notNull().references('tasks.id'))
      .addColumn('depends_on_task_id', 'text', (c) => c.notNull().references('tasks.id'))
      .addPrimaryKeyConstraint('task_dependencies_pk', ['task_id', 'depends_on_task_id'])
      .execute();

    await db.schema
      .createTable('task_attempts')
      .addColumn('id', ...serialKey(db))
      .addColumn('task_id', 'text', (c) => c.notNull().references('tasks.id'))
      .addColumn('termination_id', 'text', (c) => c.notNull())
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('worker', 'text', (c) => c.notNull())
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('finished_at', 'bigint', (c) => c.notNull())
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('error_kind', 'text')
      .addColumn('error_message', 'text')
      .addColumn('evidence', 'text')
      .execute();
    await db.schema.createIndex('task_attempts_termination').on('task_attempts').columns(['termination_id', 'id']).execute();

    await db.schema
      .createTable('audit_log')
      .addColumn('seq', ...serialKey(db))
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('termination_id', 'text')
      .addColumn('task_id', 'text')
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('audit_log_termination').on('audit_log').columns(['termination_id', 'seq']).execute();
  },
};
