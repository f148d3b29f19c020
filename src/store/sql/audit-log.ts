/**
 * The hash-chained audit log: appends (inside the transaction of the change they record,
 * without a lock: see audit-linker.ts for how they join the chain), reads in chain order,
 * and retention that prunes a linked prefix and keeps its anchor.
 */
import { sql, type Kysely } from 'kysely';
import { UNRESOLVED_TERMINATION_STATES, type TerminationState } from '../../domain/types.ts';
import type { JsonObject } from '../../domain/types.ts';
import { openedJson, toAuditEntry } from '../rows.ts';
import type { PersonalData, RecordKeys } from './personal-data.ts';
import type { Database } from '../schema.ts';
import type { AuditEntry, AuditLog, NewAuditEntry } from '../store.ts';
import { AuditLinker, DEFAULT_LINKER_TIMING, type AuditLinkerTiming } from './audit-linker.ts';
import type { StoreContext, Tx } from './context.ts';

/** The associated data a sealed entry's data is bound to (personal-data.ts). */
const AUDIT_DATA = 'audit_log.data';

/**
 * A sealed entry's stored data: the entry's data sealed under its record's key, and the
 * record (a termination or a legal hold: ours, not a person's) whose key that is.
 */
interface SealedData {
  sealed: string;
  record: string;
}

function sealedDataOf(data: JsonObject): SealedData | null {
  const { sealed, record } = data;
  return typeof sealed === 'string' && typeof record === 'string' && Object.keys(data).length === 2 ? { sealed, record } : null;
}

/**
 * The entries with their data opened for a reader; the sealed form, what is chained, stays
 * in `sealedData`. An erased record's entries read `{ erased: true }`.
 */
async function openEntries(personal: PersonalData, db: Kysely<Database>, entries: AuditEntry[]): Promise<AuditEntry[]> {
  const sealed = entries.map((entry) => sealedDataOf(entry.data));
  const keys = await personal.read(
    db,
    sealed.flatMap((s) => (s ? [s.record] : [])),
  );
  return entries.map((entry, i) => {
    const s = sealed[i];
    if (!s) return entry;
    // openedJson gives null only for a null column; a sealed entry always has its text.
    return { ...entry, sealedData: JSON.stringify(entry.data), data: openedJson(keys, s.record, AUDIT_DATA, s.sealed)! };
  });
}

export class SqlAuditLog implements AuditLog {
  readonly linker: AuditLinker;

  constructor(
    private readonly ctx: StoreContext,
    timing: AuditLinkerTiming = DEFAULT_LINKER_TIMING,
    onLinkerError?: (error: unknown) => void,
  ) {
    this.linker = new AuditLinker(ctx, timing, onLinkerError);
  }

  /**
   * Inserts the entry inside the caller's transaction, so it commits with the change it
   * records. No lock and no read of the chain: concurrent appends never wait on each other.
   */
  async append(trx: Tx, entry: NewAuditEntry, keys?: RecordKeys): Promise<void> {
    const owner = entry.sealWith === undefined ? (entry.terminationId ?? null) : entry.sealWith;
    let data = JSON.stringify(entry.data ?? {});
    if (owner !== null) {
      const recordKeys = keys?.has(owner) ? keys : await this.keysIn(trx, owner);
      if (recordKeys.has(owner))
        data = JSON.stringify({ sealed: recordKeys.seal(owner, AUDIT_DATA, data), record: owner } satisfies SealedData);
    }
    await trx
      .insertInto('audit_log')
      .values({
        at: this.ctx.clock().getTime(),
        actor: entry.actor,
        action: entry.action,
        termination_id: entry.terminationId ?? null,
        task_id: entry.taskId ?? null,
        data,
        prev_hash: null,
        hash: null,
        chain_pos: null,
      })
      .execute();
    // Usually committed well before the linker's delay runs out; if not, the next wake or its timer links it.
    this.linker.wake();
  }

  /** A transaction's reads of one record's key, kept for its other entries (a settlement appends several). */
  readonly #keysByTx = new WeakMap<Tx, Map<string, RecordKeys>>();

  private async keysIn(trx: Tx, owner: string): Promise<RecordKeys> {
    let byOwner = this.#keysByTx.get(trx);
    if (!byOwner) this.#keysByTx.set(trx, (byOwner = new Map<string, RecordKeys>()));
    let keys = byOwner.get(owner);
    if (!keys) byOwner.set(owner, (keys = await this.ctx.personal.read(trx, [owner])));
    return keys;
  }

  async appendAudit(entry: NewAuditEntry): Promise<void> {
    await this.ctx.db.transaction().execute((trx) => this.append(trx, entry));
  }

  async listAudit(afterPosition: number, limit: number): Promise<AuditEntry[]> {
    // The unlinked first: an entry the linker links between the two reads then shows up in
    // both (kept once, linked) instead of in neither, so nothing committed before the call is missed.
    const unlinked = await this.ctx.db
      .selectFrom('audit_log')
      .selectAll()
      .where('chain_pos', 'is', null)
      .orderBy('seq')
      .limit(limit)
      .execute();
    const linked = await this.ctx.db
      .selectFrom('audit_log')
      .selectAll()
      .where('chain_pos', '>', afterPosition)
      .orderBy('chain_pos')
      .limit(limit)
      .execute();
    const seen = new Set(linked.map((row) => row.seq));
    const rows = [...linked, ...unlinked.filter((row) => !seen.has(row.seq))].slice(0, limit);
    return openEntries(this.ctx.personal, this.ctx.db, rows.map(toAuditEntry));
  }

  async listAuditOf(terminationId: string): Promise<AuditEntry[]> {
    const rows = await this.ctx.db
      .selectFrom('audit_log')
      .selectAll()
      .where('termination_id', '=', terminationId)
      // Linked entries by position, then the ones not linked yet by seq.
      .orderBy(sql`chain_pos is null`)
      .orderBy('chain_pos')
      .orderBy('seq')
      .execute();
    return openEntries(this.ctx.personal, this.ctx.db, rows.map(toAuditEntry));
  }

  async countUnlinkedAudit(): Promise<number> {
    const row = await this.ctx.db
      .selectFrom('audit_log')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('chain_pos', 'is', null)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  linkAudit(): Promise<{ linked: number }> {
    return this.linker.linkNow();
  }

  startAuditLinker(): void {
    this.linker.start();
  }

  /**
   * Needs no lock: it deletes linked entries only, and the linker writes unlinked ones and
   * links after the last linked entry, or after the anchor once none is left; the deletion
   * and the new anchor commit together, so the linker sees both or neither.
   */
  async pruneAudit(before: Date, actor: string): Promise<{ pruned: number; throughPosition: number | null }> {
    return this.ctx.db.transaction().execute(async (trx) => {
      const old = await trx
        .selectFrom('audit_log as a')
        .leftJoin('terminations as t', 't.id', 'a.termination_id')
        .select(['a.chain_pos', 'a.hash', 'a.at', 't.state'])
        .where('a.chain_pos', 'is not', null)
        .orderBy('a.chain_pos')
        .limit(10_000)
        .execute();
      // Only a prefix can go, or the chain would have holes; an open termination's entries, or a recent one, stop it.
      let through: { position: number; hash: string } | null = null;
      for (const entry of old) {
        if (Number(entry.at) >= before.getTime()) break;
        if (entry.state && UNRESOLVED_TERMINATION_STATES.includes(entry.state as TerminationState)) break;
        through = { position: Number(entry.chain_pos), hash: entry.hash! };
      }
      if (!through) return { pruned: 0, throughPosition: null };
      const deleted = await trx.deleteFrom('audit_log').where('chain_pos', '<=', through.position).executeTakeFirst();
      const now = this.ctx.clock().getTime();
      await trx.deleteFrom('audit_anchor').execute();
      await trx.insertInto('audit_anchor').values({ id: 1, chain_pos: through.position, hash: through.hash, pruned_at: now }).execute();
      await this.append(trx, {
        actor,
        action: 'audit.pruned',
        data: { throughPosition: through.position, anchorHash: through.hash, before: before.toISOString() },
      });
      return { pruned: Number(deleted.numDeletedRows), throughPosition: through.position };
    });
  }

  async auditAnchor(): Promise<{ position: number; hash: string } | null> {
    const row = await this.ctx.db.selectFrom('audit_anchor').select(['chain_pos', 'hash']).where('id', '=', 1).executeTakeFirst();
    return row ? { position: Number(row.chain_pos), hash: row.hash } : null;
  }
}
