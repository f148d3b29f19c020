import type { Kysely, Migration } from 'kysely';

/**
 * Every query on expired leases filters by provider as well (claims, orphan cancellation,
 * the next wake-up): with the provider in the index they read only their own rows. Without
 * it SQLite preferred tasks_due and walked every running task of the provider.
 */
export const tasksLeaseByProvider: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.dropIndex('tasks_lease').execute();
    await db.schema.createIndex('tasks_lease').on('tasks').columns(['state', 'provider', 'lease_expires_at']).execute();
  },
};
