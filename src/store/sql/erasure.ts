/**
 * Erasure (issue 29, docs/privacy.md): a finished termination's personal data made
 * unrecoverable in one transaction, the record of what was done kept under a pseudonym, and
 * a signed receipt kept with it. The records-retention job and erasure requests use the same
 * transaction. Refusals (a hold in force, anything left to run, erased already) are decided
 * inside it, after the termination's lock, so a claim or a hold cannot slip in between.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import {
  ErasureRefusedError,
  NoSuchSubjectError,
  type ErasedTermination,
  type ErasureBlockers,
  type ErasureReceipt,
  type ErasureRequestView,
  type SignedReceipt,
} from '../../domain/erasure.ts';
import { newId } from '../../domain/ids.ts';
import { keysOf } from '../../domain/subject.ts';
import { UNRESOLVED_TERMINATION_STATES, type Subject } from '../../domain/types.ts';
import { pseudonymOf } from '../../privacy/pseudonym.ts';
import type { ErasurePublicKey, ReceiptSigner } from '../../privacy/receipt.ts';
import type { ErasureStore, KeepPersonalData, NewErasureRequest, RetentionOutcome } from '../erasure-store.ts';
import type { Database } from '../schema.ts';
import type { SqlAuditLog } from './audit-log.ts';
import { filedUnderAny } from './subject-search.ts';
import type { StoreContext, Tx } from './context.ts';
import { holdRowsCovering } from './legal-holds.ts';

/** The tables migration 0018 adds, and the columns it adds to `terminations`. */
interface ErasureTables {
  erasures: { id: string; erased_at: number; erased_by: string; reason: string; scope: string; receipt: string };
  erasure_requests: {
    id: string;
    subject: string;
    requested_by: string;
    reference: string;
    received_at: number;
    state: string;
    due_at: number | null;
    because: string | null;
    holds: string;
    terminations: string;
    erasure_id: string | null;
    updated_at: number;
  };
  retention_holds: { termination_id: string; hold_id: string; noted_at: number };
  webhook_deliveries: { id: string; termination_id: string | null };
}
type ErasureDb = Omit<Database, 'terminations'> &
  ErasureTables & { terminations: Database['terminations'] & { erased_at: number | null; erasure_id: string | null } };
type ETx = Transaction<ErasureDb>;

const on = (trx: Tx): ETx => trx as unknown as ETx;
/** The store's database with migration 0018's tables (kept here, as webhook-deliveries.ts keeps its own). */
const withErasure = (db: StoreContext['db']): Kysely<ErasureDb> => db as unknown as Kysely<ErasureDb>;

/**
 * Termination states that refuse erasure: something may still run, or (`failed`) a door may
 * still be open, which an operator must settle (replay or waive) before the person is forgotten.
 */
const OPEN_STATES: readonly string[] = UNRESOLVED_TERMINATION_STATES;
const OPEN_TASK_STATES = ['pending', 'running'];
const OPEN_REVERIFICATION_STATES = ['pending', 'running'];
/** Where an erasure request's subject is sealed: its own record in the keyring. */
const REQUEST_SUBJECT = 'erasure_requests.subject';
/** The sealed subject column of a termination (src/store/sql/personal-data.ts: `<table>.<column>`). */
const TERMINATION_SUBJECT = 'terminations.subject';

interface ErasureScope {
  scope: ErasureReceipt['scope'];
  reference: string | null;
}

export class SqlErasure implements ErasureStore {
  constructor(
    private readonly ctx: StoreContext,
    private readonly auditLog: SqlAuditLog,
    private readonly signer: ReceiptSigner,
    /** Erases the person's directory entries in the erasure's transaction. */
    private readonly eraseDirectorySubject: (trx: Tx, subjectKeys: string[]) => Promise<{ users: number }>,
  ) {}

  erasureKey(): ErasurePublicKey {
    return this.signer.publicKey;
  }

  async eraseTermination(id: string, actor: string, reason: string): Promise<SignedReceipt | null> {
    return this.ctx.db.transaction().execute(async (trx) => {
      const found = await trx.selectFrom('terminations').select('id').where('id', '=', id).executeTakeFirst();
      if (!found) return null;
      return this.erase(trx, [id], actor, reason, { scope: 'termination', reference: null });
    });
  }

  async eraseSubject(subject: Subject, actor: string, reason: string): Promise<SignedReceipt> {
    return this.ctx.db.transaction().execute(async (trx) => {
      const ids = await this.terminationsOf(trx, keysOf(subject));
      if (ids.length === 0) throw new NoSuchSubjectError();
      return this.erase(trx, ids, actor, reason, { scope: 'subject', reference: null });
    });
  }

  async getErasure(id: string): Promise<SignedReceipt | null> {
    const row = await withErasure(this.ctx.db).selectFrom('erasures').select('receipt').where('id', '=', id).executeTakeFirst();
    return row ? (JSON.parse(row.receipt) as SignedReceipt) : null;
  }

  async dueForRetention(periods: ReadonlyMap<string, number>, now: Date, limit: number): Promise<string[]> {
    const db = withErasure(this.ctx.db);
    const due: Array<{ id: string; finished_at: number }> = [];
    for (const [playbook, period] of periods) {
      const rows = await db
        .selectFrom('terminations as t')
        .select(['t.id', 't.finished_at'])
        .where('t.playbook', '=', playbook)
        .where('t.finished_at', '<=', now.getTime() - period)
        .where('t.erased_at', 'is', null)
        .where('t.state', 'not in', OPEN_STATES)
        // Waits for its last re-verification (a refusal every pass would only be noise).
        .where((w) =>
          w.not(
            w.exists(
              w
                .selectFrom('reverifications as r')
                .select(sql.lit(1).as('one'))
                .whereRef('r.termination_id', '=', 't.id')
                .where('r.state', 'in', OPEN_REVERIFICATION_STATES),
            ),
          ),
        )
        // A hold already noted for it keeps it out until released: audited once, not every pass.
        .where((w) =>
          w.not(
            w.exists(
              w
                .selectFrom('retention_holds as rh')
                .innerJoin('legal_holds as h', 'h.id', 'rh.hold_id')
                .select(sql.lit(1).as('one'))
                .whereRef('rh.termination_id', '=', 't.id')
                .where('h.released_at', 'is', null),
            ),
          ),
        )
        .orderBy('t.finished_at')
        .limit(limit)
        .execute();
      due.push(...rows.map((r) => ({ id: r.id, finished_at: Number(r.finished_at) })));
    }
    return due
      .sort((a, b) => a.finished_at - b.finished_at)
      .slice(0, limit)
      .map((r) => r.id);
  }

  async eraseForRetention(id: string, actor: string): Promise<RetentionOutcome> {
    try {
      const erased = await this.ctx.db
        .transaction()
        .execute((trx) =>
          this.erase(trx, [id], actor, 'records retention: personal-data period ended', { scope: 'retention', reference: null }),
        );
      return { erased };
    } catch (error) {
      if (!(error instanceof ErasureRefusedError)) throw error;
      const { held, unfinished, erased } = error.blockers;
      if (held.length === 0) {
        return { skipped: unfinished.length > 0 ? 'not finished' : erased.length > 0 ? 'erased already' : 'refused' };
      }
      const noted = await this.noteHeld(id, held, actor);
      return { held: held.map((h) => ({ holdId: h.holdId, reason: h.reason })), noted };
    }
  }

  async retentionHeldCount(): Promise<number> {
    const row = await withErasure(this.ctx.db)
      .selectFrom('retention_holds as rh')
      .innerJoin('legal_holds as h', 'h.id', 'rh.hold_id')
      .select(sql<number>`count(distinct rh.termination_id)`.as('n'))
      .where('h.released_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Records each hold seen for the first time, with its audit entry; returns how many were new. */
  private async noteHeld(id: string, held: ErasureBlockers['held'], actor: string): Promise<number> {
    return this.ctx.db.transaction().execute(async (trx) => {
      let noted = 0;
      const now = this.ctx.clock().getTime();
      for (const hold of held) {
        // Two replicas' passes may meet here: the first insert wins, the other audits nothing.
        const inserted = await on(trx)
          .insertInto('retention_holds')
          .values({ termination_id: id, hold_id: hold.holdId, noted_at: now })
          .onConflict((oc) => oc.columns(['termination_id', 'hold_id']).doNothing())
          .executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) continue;
        await this.auditLog.append(trx, {
          actor,
          action: 'privacy.retention_held',
          terminationId: id,
          data: { holdId: hold.holdId },
        });
        noted += 1;
      }
      return noted;
    });
  }

  async requestErasure(request: NewErasureRequest, actor: string, keep: KeepPersonalData): Promise<ErasureRequestView> {
    return this.ctx.db.transaction().execute(async (trx) => {
      const id = newId();
      const now = this.ctx.clock().getTime();
      const keys = await this.ctx.personal.create(trx, [id], now);
      await on(trx)
        .insertInto('erasure_requests')
        .values({
          id,
          subject: keys.sealJson(id, REQUEST_SUBJECT, request.subject),
          requested_by: request.requestedBy,
          reference: request.reference,
          received_at: now,
          state: 'scheduled',
          due_at: now,
          because: null,
          holds: '[]',
          terminations: '[]',
          erasure_id: null,
          updated_at: now,
        })
        .execute();
      await this.auditLog.append(trx, {
        actor,
        action: 'privacy.erasure_requested',
        sealWith: id,
        data: { requestId: id, requestedBy: request.requestedBy, reference: request.reference },
      });
      return this.decide(trx, id, request.subject, actor, keep, false);
    });
  }

  async getErasureRequest(id: string): Promise<ErasureRequestView | null> {
    const row = await withErasure(this.ctx.db).selectFrom('erasure_requests').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRequestView(row) : null;
  }

  async runDueErasureRequests(now: Date, actor: string, keep: KeepPersonalData, limit: number): Promise<ErasureRequestView[]> {
    const rows = await withErasure(this.ctx.db)
      .selectFrom('erasure_requests')
      .select('id')
      .where((w) => w.or([w.and([w('state', '=', 'scheduled'), w('due_at', '<=', now.getTime())]), w('state', '=', 'waiting')]))
      .orderBy('received_at')
      .limit(limit)
      .execute();
    const results: ErasureRequestView[] = [];
    for (const { id } of rows) {
      const view = await this.ctx.db.transaction().execute(async (trx) => {
        const row = await on(trx).selectFrom('erasure_requests').selectAll().where('id', '=', id).executeTakeFirst();
        if (!row || (row.state !== 'scheduled' && row.state !== 'waiting')) return null;
        const keys = await this.ctx.personal.read(trx, [id]);
        const opened = keys.open(id, REQUEST_SUBJECT, row.subject);
        if (opened === null) return null;
        return this.decide(trx, id, JSON.parse(opened) as Subject, actor, keep, true);
      });
      if (view) results.push(view);
    }
    return results;
  }

  /**
   * Decides a request now: refused (no termination, or a hold in force: named), waiting (a
   * termination not finished), scheduled (its records must keep personal data until a later
   * time), or, when `carryOut` and due, carried out. A request that ends (refused or done)
   * destroys its own data key: the subject it named is needed no longer.
   */
  private async decide(
    trx: Tx,
    id: string,
    subject: Subject,
    actor: string,
    keep: KeepPersonalData,
    carryOut: boolean,
  ): Promise<ErasureRequestView> {
    const now = this.ctx.clock().getTime();
    const ids = await this.terminationsOf(trx, keysOf(subject));
    const update = async (set: Partial<ErasureTables['erasure_requests']>) => {
      const before = await on(trx)
        .selectFrom('erasure_requests')
        .select(['state', 'due_at'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      await on(trx)
        .updateTable('erasure_requests')
        .set({ ...set, terminations: JSON.stringify(ids), updated_at: now })
        .where('id', '=', id)
        .execute();
      const ended = set.state === 'refused' || set.state === 'done';
      if (ended) await this.ctx.personal.destroy(trx, [id]);
      // The first answer and every change are audited; a request still waiting at the next pass is not, every pass.
      const changed = before.state !== set.state || Number(before.due_at) !== Number(set.due_at);
      if (!carryOut || changed)
        await this.auditLog.append(trx, {
          actor,
          action: 'privacy.erasure_request_decided',
          // Once it ended its subject is no longer needed: written unsealed, with no personal data.
          sealWith: ended ? null : id,
          data: { requestId: id, state: set.state ?? null, dueAt: set.due_at ?? null, because: set.because ?? null, terminations: ids },
        });
      const row = await on(trx).selectFrom('erasure_requests').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      return toRequestView(row);
    };
    if (ids.length === 0) return update({ state: 'refused', due_at: null, because: 'no termination on record for this subject' });
    const blockers = await this.blockersOf(trx, ids);
    if (blockers.held.length > 0) {
      const holds = [...new Map(blockers.held.map((h) => [h.holdId, { holdId: h.holdId, reason: h.reason }])).values()];
      return update({
        state: 'refused',
        due_at: null,
        because: `a legal hold applies: ${holds.map((h) => h.holdId).join(', ')}`,
        holds: JSON.stringify(holds),
      });
    }
    if (blockers.unfinished.length > 0) {
      return update({
        state: 'waiting',
        due_at: null,
        because: `termination ${blockers.unfinished.map((u) => u.terminationId).join(', ')} not finished: carried out once it is, after its records retention`,
      });
    }
    const rows = await trx.selectFrom('terminations').select(['playbook', 'finished_at']).where('id', 'in', ids).execute();
    const dueAt = Math.max(now, ...rows.map((r) => Number(r.finished_at ?? now) + keep(r.playbook)));
    if (!carryOut || dueAt > now) {
      return update({
        state: 'scheduled',
        due_at: dueAt,
        because: dueAt > now ? 'the records must keep personal data until their retention period ends' : null,
      });
    }
    const receipt = await this.erase(trx, ids, actor, 'erasure request', { scope: 'request', reference: id });
    return update({ state: 'done', due_at: now, because: null, erasure_id: receipt.receipt.erasureId });
  }

  /** Terminations on record, not erased, whose subject forms one of `keys` (filed under their blind indexes). */
  private async terminationsOf(trx: Tx, keys: string[]): Promise<string[]> {
    if (keys.length === 0) return [];
    const rows = await on(trx)
      .selectFrom('terminations')
      .select('id')
      .where('erased_at', 'is', null)
      .where(filedUnderAny(keys.map((k) => this.ctx.personal.index(k))))
      .orderBy('requested_at')
      .execute();
    return rows.map((r) => r.id);
  }

  /** Everything that keeps these terminations from being erased now. */
  private async blockersOf(trx: Tx, ids: string[]): Promise<ErasureBlockers> {
    const blockers: ErasureBlockers = { held: [], unfinished: [], erased: [] };
    for (const id of ids) {
      await this.ctx.hooks.lockTermination(trx, id);
      const t = await on(trx)
        .selectFrom('terminations')
        .select(['state', 'erased_at', 'erasure_id'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      if (t.erased_at !== null) {
        blockers.erased.push({ terminationId: id, erasureId: t.erasure_id });
        continue;
      }
      const holds = (await holdRowsCovering(trx, id)).filter((h) => h.released_at === null);
      blockers.held.push(...holds.map((h) => ({ holdId: h.id, terminationId: id, reason: h.reason })));
      const tasks = await trx
        .selectFrom('tasks')
        .select('step_id')
        .where('termination_id', '=', id)
        .where('state', 'in', OPEN_TASK_STATES)
        .orderBy('step_id')
        .execute();
      const reverifications = await trx
        .selectFrom('reverifications')
        .select('id')
        .where('termination_id', '=', id)
        .where('state', 'in', OPEN_REVERIFICATION_STATES)
        .orderBy('due_at')
        .execute();
      if (OPEN_STATES.includes(t.state) || tasks.length > 0 || reverifications.length > 0) {
        blockers.unfinished.push({
          terminationId: id,
          state: t.state,
          tasks: tasks.map((r) => r.step_id),
          reverifications: reverifications.map((r) => r.id),
        });
      }
    }
    return blockers;
  }

  /** The erasure itself, in the caller's transaction: all of `ids`, or nothing (a refusal throws). */
  private async erase(trx: Tx, ids: string[], actor: string, reason: string, scope: ErasureScope): Promise<SignedReceipt> {
    const blockers = await this.blockersOf(trx, ids);
    if (ErasureRefusedError.has(blockers)) throw new ErasureRefusedError(blockers);
    const now = this.ctx.clock().getTime();
    const erasureId = newId();
    const rows = await trx
      .selectFrom('terminations')
      .select(['id', 'subject', 'playbook', 'finished_at'])
      .where('id', 'in', ids)
      .orderBy('requested_at')
      .execute();
    // The person's identifiers, read before their keys go: the directory is searched by them.
    const dataKeys = await this.ctx.personal.read(trx, ids);
    const personKeys = new Set<string>();
    for (const row of rows) {
      const opened = dataKeys.open(row.id, TERMINATION_SUBJECT, row.subject);
      if (opened !== null) for (const key of keysOf(JSON.parse(opened) as Subject)) personKeys.add(key);
    }
    const erased: ErasedTermination[] = [];
    for (const row of rows) erased.push(await this.eraseOne(trx, row, erasureId, actor, now));
    const { users } = await this.eraseDirectorySubject(trx, [...personKeys]);
    const totals: Record<string, number> = { directory_users: users };
    for (const t of erased) for (const [what, n] of Object.entries(t.erased)) totals[what] = (totals[what] ?? 0) + n;
    const receipt: ErasureReceipt = {
      type: 'deprovisiond.erasure-receipt/v1',
      erasureId,
      erasedAt: new Date(now).toISOString(),
      erasedBy: actor,
      reason,
      scope: scope.scope,
      requestReference: scope.reference,
      terminations: erased,
      totals,
    };
    const signed = this.signer.sign(receipt);
    await on(trx)
      .insertInto('erasures')
      .values({ id: erasureId, erased_at: now, erased_by: actor, reason, scope: scope.scope, receipt: JSON.stringify(signed) })
      .execute();
    return signed;
  }

  private async eraseOne(
    trx: Tx,
    row: { id: string; playbook: string; finished_at: number | null },
    erasureId: string,
    actor: string,
    now: number,
  ): Promise<ErasedTermination> {
    const id = row.id;
    const pseudonym = pseudonymOf(id);
    const range = await trx
      .selectFrom('audit_log')
      .select((eb) => [eb.fn.min('seq').as('first'), eb.fn.max('seq').as('last'), eb.fn.countAll().as('n')])
      .where('termination_id', '=', id)
      .executeTakeFirstOrThrow();
    // Released holds naming the person keep their record; their personal data goes with the person's.
    const released = (await holdRowsCovering(trx, id)).filter((h) => h.released_at !== null).map((h) => h.id);
    const holdKeys = released.length > 0 ? await this.ctx.personal.destroy(trx, released) : 0;
    const dataKeys = await this.ctx.personal.destroy(trx, [id]);
    await on(trx)
      .updateTable('terminations')
      .set({
        subject_key: pseudonym,
        subject_keys: JSON.stringify([pseudonym]),
        // Overwritten as well as unreadable: a record written before sealing held it in the clear.
        subject: JSON.stringify({ userName: pseudonym, emails: [] }),
        reason: null,
        erased_at: now,
        erasure_id: erasureId,
        updated_at: now,
      })
      .where('id', '=', id)
      .execute();
    const deliveries = await on(trx).deleteFrom('webhook_deliveries').where('termination_id', '=', id).executeTakeFirst();
    const entries = Number(range.n);
    const auditRange = entries > 0 ? { firstSeq: Number(range.first), lastSeq: Number(range.last), entries } : null;
    const erased = {
      terminations: 1,
      data_keys: dataKeys,
      webhook_deliveries: Number(deliveries.numDeletedRows),
      legal_hold_data_keys: holdKeys,
      audit_entries_sealed: entries,
    };
    // Its data key is gone, so the entry is stored as given: it holds no personal data.
    await this.auditLog.append(trx, {
      actor,
      action: 'privacy.erased',
      terminationId: id,
      data: { erasureId, pseudonym, auditRange, erased },
    });
    return {
      terminationId: id,
      pseudonym,
      playbook: row.playbook,
      finishedAt: row.finished_at === null ? null : new Date(Number(row.finished_at)).toISOString(),
      auditRange,
      erased,
    };
  }
}

function toRequestView(row: ErasureTables['erasure_requests']): ErasureRequestView {
  return {
    id: row.id,
    state: row.state as ErasureRequestView['state'],
    requestedBy: row.requested_by,
    reference: row.reference,
    receivedAt: new Date(Number(row.received_at)).toISOString(),
    dueAt: row.due_at === null ? null : new Date(Number(row.due_at)).toISOString(),
    because: row.because,
    holds: JSON.parse(row.holds) as ErasureRequestView['holds'],
    terminations: JSON.parse(row.terminations) as string[],
    erasureId: row.erasure_id,
  };
}
