/**
 * The audit chain's linker (invariant 6). Appends insert entries with their fields only, in
 * the transaction of the change, and take no lock; the linker then takes the entries not
 * linked yet in seq order, gives each the next position in the chain and its hash over the
 * previous hash and its fields, in one short transaction.
 *
 * One linker at a time: on PostgreSQL the transaction first tries a transaction-level
 * advisory lock and gives up at once when another replica holds it (that replica links
 * what is there). A replica frozen while linking holds the lock only until PostgreSQL ends
 * its session (idle_in_transaction_session_timeout, statement_timeout on the pool's
 * connections); then any replica takes over. An entry whose transaction commits after a
 * later seq was linked (PostgreSQL sequences commit out of order) is still unlinked, so it
 * gets the next position when it becomes visible: late, never skipped.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Selectable } from 'kysely';
import { GENESIS_HASH, chainHash } from '../../audit/chain.ts';
import type { AuditLogTable } from '../schema.ts';
import type { StoreContext, Tx } from './context.ts';

export interface AuditLinkerTiming {
  /** After an append, the linker runs this much later (appends in between share the run). */
  wakeDelayMs: number;
  /** The safety net: a run this often even without appends seen here (other processes', lost wakes). */
  intervalMs: number;
  /** Entries linked per transaction, so one run never holds the lock for long. */
  batchSize: number;
  /** How long `linkNow()` waits for another replica's linker before giving up. */
  waitForOthersMs: number;
}

export const DEFAULT_LINKER_TIMING: AuditLinkerTiming = {
  wakeDelayMs: 100,
  intervalMs: 5_000,
  batchSize: 500,
  waitForOthersMs: 30_000,
};

/** Retry step while another replica holds the linker lock. */
const BUSY_RETRY_MS = 50;

interface Pass {
  linked: number;
  busy: boolean;
  more: boolean;
}

export class AuditLinker {
  private running: Promise<unknown> = Promise.resolve();
  private started = false;
  private stopped = false;
  /** A background run waits for the one under way. */
  private queued = false;
  private wakeTimer: NodeJS.Timeout | null = null;
  private interval: NodeJS.Timeout | null = null;

  constructor(
    private readonly ctx: StoreContext,
    private readonly timing: AuditLinkerTiming = DEFAULT_LINKER_TIMING,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** Links in the background until `stop()`. Timers are unref'd: they never keep a process alive. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.interval = setInterval(() => this.background(), this.timing.intervalMs);
    this.interval.unref();
    this.wake();
  }

  /** An entry was appended: link it shortly (one run for every append until then). */
  wake(): void {
    if (!this.started || this.stopped || this.wakeTimer) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null;
      this.background();
    }, this.timing.wakeDelayMs);
    this.wakeTimer.unref();
  }

  /**
   * Links everything committed before the call: runs passes until none is left, waiting
   * for another replica's linker when it holds the lock. Resolves after the commit.
   */
  linkNow(): Promise<{ linked: number }> {
    const run = this.running.then(async () => ({ linked: (await this.drain(this.timing.waitForOthersMs)).linked }));
    this.running = run.catch(() => undefined);
    return run;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    if (this.interval) clearInterval(this.interval);
    this.wakeTimer = null;
    this.interval = null;
    await this.running;
  }

  /**
   * A run nobody awaits: when another replica holds the lock, try again after the wake
   * delay. One waits at most behind the run under way: it will link whatever that one left.
   */
  private background(): void {
    if (this.stopped || this.queued) return;
    this.queued = true;
    const run = this.running.then(async () => {
      this.queued = false;
      if (this.stopped) return;
      try {
        const { busy } = await this.drain(0);
        if (busy) this.wake();
      } catch (error) {
        this.onError(error);
      }
    });
    this.running = run;
  }

  private async drain(waitForOthersMs: number): Promise<{ linked: number; busy: boolean }> {
    const deadline = Date.now() + waitForOthersMs;
    let linked = 0;
    for (;;) {
      const pass = await this.pass();
      linked += pass.linked;
      if (pass.more) continue;
      if (!pass.busy) return { linked, busy: false };
      if (Date.now() >= deadline) {
        if (waitForOthersMs === 0) return { linked, busy: true };
        throw new Error(`audit linker: another replica held the chain for more than ${waitForOthersMs} ms`);
      }
      await sleep(BUSY_RETRY_MS);
    }
  }

  /** One short transaction: the lock (or give up), a batch of unlinked entries, their links. */
  private pass(): Promise<Pass> {
    const { batchSize } = this.timing;
    return this.ctx.db.transaction().execute(async (trx) => {
      if (!(await this.ctx.hooks.tryLockAuditLinker(trx))) return { linked: 0, busy: true, more: false };
      const batch = await trx.selectFrom('audit_log').selectAll().where('chain_pos', 'is', null).orderBy('seq').limit(batchSize).execute();
      if (batch.length === 0) return { linked: 0, busy: false, more: false };
      let head = await chainHead(trx);
      const links: Link[] = [];
      for (const row of batch) {
        const link = { seq: row.seq, position: head.position + 1, prevHash: head.hash, hash: chainHash(head.hash, chainedFields(row)) };
        links.push(link);
        head = link;
      }
      await writeLinks(trx, links);
      return { linked: batch.length, busy: false, more: batch.length === batchSize };
    });
  }
}

interface Link {
  seq: number;
  position: number;
  prevHash: string;
  hash: string;
}

/**
 * One statement for the whole batch (a round trip per entry held the lock for most of a
 * pass on PostgreSQL). Both dialects name a VALUES list's columns column1, column2, …
 */
async function writeLinks(trx: Tx, links: Link[]): Promise<void> {
  const rows = links.map((l) => sql`(cast(${l.seq} as bigint), cast(${l.position} as bigint), ${l.prevHash}, ${l.hash})`);
  const { numAffectedRows } = await sql`
    update audit_log set chain_pos = v.column2, prev_hash = v.column3, hash = v.column4
    from (values ${sql.join(rows)}) as v
    where audit_log.seq = v.column1 and audit_log.chain_pos is null`.execute(trx);
  // Only one linker runs, so every row is still unlinked; if not, roll back rather than link past one.
  if (Number(numAffectedRows) !== links.length)
    throw new Error(`audit linker: ${links.length - Number(numAffectedRows)} entries changed while being linked`);
}

/** The last linked entry; after pruning removed them all, the anchor; else the genesis. */
async function chainHead(trx: Tx): Promise<{ position: number; hash: string }> {
  const last = await trx
    .selectFrom('audit_log')
    .select(['chain_pos', 'hash'])
    .where('chain_pos', 'is not', null)
    .orderBy('chain_pos', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (last) return { position: Number(last.chain_pos), hash: last.hash! };
  const anchor = await trx.selectFrom('audit_anchor').select(['chain_pos', 'hash']).where('id', '=', 1).executeTakeFirst();
  return anchor ? { position: Number(anchor.chain_pos), hash: anchor.hash } : { position: 0, hash: GENESIS_HASH };
}

/** The fields an entry's hash covers, as stored (data is the JSON text written at append). */
function chainedFields(row: Selectable<AuditLogTable>) {
  return {
    at: Number(row.at),
    actor: row.actor,
    action: row.action,
    terminationId: row.termination_id,
    taskId: row.task_id,
    data: row.data,
  };
}
