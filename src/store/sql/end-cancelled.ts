/** Ending a termination as cancelled: what an operator's cancellation and a supersession share. */
import type { Tx } from './context.ts';

/** Cancels every task of the termination not yet run (pending, or failed and not replayed) and ends it `cancelled`; returns how many tasks it cancelled. */
export async function endCancelled(trx: Tx, terminationId: string, now: number): Promise<number> {
  const cancelled = await trx
    .updateTable('tasks')
    .set({ state: 'cancelled', finished_at: now, updated_at: now, lease_owner: null, lease_expires_at: null })
    .where('termination_id', '=', terminationId)
    .where('state', 'in', ['pending', 'failed'])
    .executeTakeFirst();
  await trx
    .updateTable('terminations')
    .set({ state: 'cancelled', finished_at: now, updated_at: now })
    .where('id', '=', terminationId)
    .execute();
  return Number(cancelled.numUpdatedRows);
}
