import type { Kysely, Migration } from 'kysely';

/**
 * Each claim gets a token of its own. Heartbeats, results and releases name it, so a
 * worker that lost its lease (frozen past it, then resumed) cannot write over the task's
 * next holder, even when that holder is the same worker reclaiming it.
 */
export const tasksLeaseToken: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('tasks').addColumn('lease_token', 'text').execute();
  },
};
