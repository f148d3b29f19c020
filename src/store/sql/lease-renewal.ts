/**
 * The heartbeat's store side: extends the leases a worker still holds, on the lease
 * connection, without waiting on a row another transaction holds (TaskQueue.renewLeases).
 */
import type { ExpressionBuilder } from 'kysely';
import type { LeaseRef, LeaseRenewal } from '../store.ts';
import type { Database } from '../schema.ts';
import { leaseEnd, type StoreContext } from './context.ts';

export async function renewLeases(ctx: StoreContext, worker: string, leases: LeaseRef[], leaseMs: number): Promise<LeaseRenewal> {
  if (leases.length === 0) return { renewed: [], busy: [] };
  const { leaseDb: db, hooks } = ctx;
  const mine = (eb: ExpressionBuilder<Database, 'tasks'>) =>
    eb(
      eb.refTuple('id', 'lease_token'),
      'in',
      leases.map((lease) => eb.tuple(lease.id, lease.leaseToken)),
    );
  // A row locked now is skipped, not waited for: waiting would hold back the heartbeat of
  // every other task, and under load let their leases expire mid-flight. The lock may be a
  // settlement or a reclaim after the lease lapsed, or a peer frozen inside a transaction
  // that touched the row (until PostgreSQL ends its session): so a skipped row that is
  // still ours is reported busy, not lost; its lease keeps its old end.
  let held = db.selectFrom('tasks').select('id').where(mine).where('state', '=', 'running');
  if (hooks.skipLocked) held = held.forUpdate().skipLocked();
  const renewed = (
    await db
      .updateTable('tasks')
      .set({ lease_expires_at: leaseEnd(ctx.leaseClock(), leaseMs) })
      .where('id', 'in', held)
      .where(mine)
      .where('state', '=', 'running')
      .where('lease_owner', '=', worker)
      .returning('id')
      .execute()
  ).map((row) => row.id);
  if (renewed.length === leases.length || !hooks.skipLocked) return { renewed, busy: [] };
  // A plain read does not wait on row locks: it sees the last committed owner.
  const done = new Set(renewed);
  const stillMine = await db
    .selectFrom('tasks')
    .select('id')
    .where(mine)
    .where('state', '=', 'running')
    .where('lease_owner', '=', worker)
    .execute();
  return { renewed, busy: stillMine.map((row) => row.id).filter((id) => !done.has(id)) };
}
