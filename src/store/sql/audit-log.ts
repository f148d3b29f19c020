/**
 * The hash-chained audit log: appends (inside the transaction of the change they record),
 * reads in chain order, and retention that prunes a prefix and keeps its anchor.
 */
import { UNRESOLVED_TERMINATION_STATES, type TerminationState } from '../../domain/types.ts';
import { GENESIS_HASH, chainHash } from '../../audit/chain.ts';
import { toAuditEntry } from '../rows.ts';
import type { AuditEntry, AuditLog, NewAuditEntry } from '../store.ts';
import type { StoreContext, Tx } from './context.ts';

export class SqlAuditLog implements AuditLog {
  constructor(private readonly ctx: StoreContext) {}

  /** Appends to the hash chain inside the caller's transaction, so the entry commits with the change it records. */
  async append(trx: Tx, entry: NewAuditEntry): Promise<void> {
    await this.ctx.hooks.lockAuditChain(trx);
    const last = await trx.selectFrom('audit_log').select('hash').orderBy('seq', 'desc').limit(1).executeTakeFirst();
    const prevHash = last?.hash ?? GENESIS_HASH;
    const fields = {
      at: this.ctx.clock().getTime(),
      actor: entry.actor,
      action: entry.action,
      terminationId: entry.terminationId ?? null,
      taskId: entry.taskId ?? null,
      data: JSON.stringify(entry.data ?? {}),
    };
    await trx
      .insertInto('audit_log')
      .values({
        at: fields.at,
        actor: fields.actor,
        action: fields.action,
        termination_id: fields.terminationId,
        task_id: fields.taskId,
        data: fields.data,
        prev_hash: prevHash,
        hash: chainHash(prevHash, fields),
      })
      .execute();
  }

  async appendAudit(entry: NewAuditEntry): Promise<void> {
    await this.ctx.db.transaction().execute((trx) => this.append(trx, entry));
  }

  async listAudit(afterSeq: number, limit: number): Promise<AuditEntry[]> {
    const rows = await this.ctx.db.selectFrom('audit_log').selectAll().where('seq', '>', afterSeq).orderBy('seq').limit(limit).execute();
    return rows.map(toAuditEntry);
  }

  async listAuditOf(terminationId: string): Promise<AuditEntry[]> {
    const rows = await this.ctx.db.selectFrom('audit_log').selectAll().where('termination_id', '=', terminationId).orderBy('seq').execute();
    return rows.map(toAuditEntry);
  }

  async pruneAudit(before: Date, actor: string): Promise<{ pruned: number; throughSeq: number | null }> {
    return this.ctx.db.transaction().execute(async (trx) => {
      await this.ctx.hooks.lockAuditChain(trx);
      const old = await trx
        .selectFrom('audit_log as a')
        .leftJoin('terminations as t', 't.id', 'a.termination_id')
        .select(['a.seq', 'a.hash', 't.state'])
        .where('a.at', '<', before.getTime())
        .orderBy('a.seq')
        .limit(10_000)
        .execute();
      // Only a prefix can go, or the chain would have holes; an open termination's entries stop it.
      let through: { seq: number; hash: string } | null = null;
      for (const entry of old) {
        if (entry.state && UNRESOLVED_TERMINATION_STATES.includes(entry.state as TerminationState)) break;
        through = { seq: Number(entry.seq), hash: entry.hash };
      }
      if (!through) return { pruned: 0, throughSeq: null };
      const deleted = await trx.deleteFrom('audit_log').where('seq', '<=', through.seq).executeTakeFirst();
      const now = this.ctx.clock().getTime();
      await trx.deleteFrom('audit_anchor').execute();
      await trx.insertInto('audit_anchor').values({ id: 1, seq: through.seq, hash: through.hash, pruned_at: now }).execute();
      await this.append(trx, { actor, action: 'audit.pruned', data: { throughSeq: through.seq, anchorHash: through.hash, before: before.toISOString() } });
      return { pruned: Number(deleted.numDeletedRows), throughSeq: through.seq };
    });
  }

  async auditAnchor(): Promise<{ seq: number; hash: string } | null> {
    const row = await this.ctx.db.selectFrom('audit_anchor').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirst();
    return row ? { seq: Number(row.seq), hash: row.hash } : null;
  }
}
