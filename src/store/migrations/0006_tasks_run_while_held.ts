import { sql, type Kysely, type Migration } from 'kysely';

/**
 * A held termination runs only the tasks made to run while it is held (the brake's
 * notification). That used to be recognised by the step's name inside the queue's SQL;
 * a flag on the task keeps playbook names out of the store.
 */
export const tasksRunWhileHeld: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('tasks')
      .addColumn('runs_while_held', 'integer', (col) => col.notNull().defaultTo(0))
      .execute();
    await sql`update tasks set runs_while_held = 1 where step_id = 'brake-held'`.execute(db);
  },
};
