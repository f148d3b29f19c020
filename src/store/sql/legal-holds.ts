/**
 * Legal holds (src/domain/legal-hold.ts): placed and released with an audit entry in the
 * same transaction; the task queue reads them through `underLegalHold` (runnable.ts), so a
 * held delete is simply not runnable, and a release wakes the queue on every replica.
 */
import type { ExpressionBuilder, Selectable, SqlBool } from 'kysely';
import { sql } from 'kysely';
import { newId } from '../../domain/ids.ts';
import type { HoldTarget, LegalHold } from '../../domain/legal-hold.ts';
import { keysOf, keysOfIdentifier, likePatternOf, subjectKey } from '../../domain/subject.ts';
import { DESTRUCTIVE_ACTIONS, type Subject } from '../../domain/types.ts';
import type { Database, LegalHoldsTable } from '../schema.ts';
import type { HeldTask, LegalHoldStore, PlacedHold } from '../store.ts';
import type { SqlAuditLog } from './audit-log.ts';
import { emitWake, type StoreContext, type Tx } from './context.ts';
import { SEALED } from '../rows.ts';
import { ERASED, type RecordKeys } from './personal-data.ts';
import { filedUnderAny } from './subject-search.ts';

type AliasedTasks = Database & { t: Database['tasks'] };

/**
 * A hold key (`k`, a row of legal_hold_subjects) names a termination (`ht`): its subject key,
 * or any key its subject forms. One rule for the queue (underLegalHold) and the read
 * (holdsCovering), so what a hold is shown to cover is what it keeps.
 */
const HOLD_KEY_MATCHES = sql<SqlBool>`(k.subject_key = ht.subject_key or ht.subject_keys like k.pattern escape '\\')`;

/**
 * True when an active hold covers the task's termination, or one of the keys its subject
 * forms (its `subject_key`, or any in `subject_keys`). Only destructive candidates reach it
 * (runnable.ts), and only active holds are read, so the queue pays nothing for holds on the
 * common path.
 */
export function underLegalHold(eb: ExpressionBuilder<AliasedTasks, 't'>) {
  return eb.or([
    eb.exists(
      eb
        .selectFrom('legal_holds as h')
        .select(sql.lit(1).as('one'))
        .whereRef('h.termination_id', '=', 't.termination_id')
        .where('h.released_at', 'is', null),
    ),
    eb.exists(
      eb
        .selectFrom('terminations as ht')
        .innerJoin('legal_hold_subjects as k', (join) => join.on(HOLD_KEY_MATCHES))
        .innerJoin('legal_holds as h', 'h.id', 'k.hold_id')
        .select(sql.lit(1).as('one'))
        .whereRef('ht.id', '=', 't.termination_id')
        .where('h.released_at', 'is', null),
    ),
  ]);
}

/** The field a subject hold's person is sealed in, under the hold's own data key. */
export const HOLD_SUBJECT = 'legal_holds.subject';

/**
 * What a subject hold keeps sealed in `subject`: the person as the operator named them and
 * every key the hold covers in clear (its rows in legal_hold_subjects are blind indexes).
 * A hold placed before migration 0016 holds the subject alone, in clear.
 */
interface SealedHoldSubject {
  subject: Subject;
  keys: string[];
}

function toLegalHold(row: Selectable<LegalHoldsTable>, indexedKeys: string[], keys: RecordKeys): LegalHold {
  const text = row.subject === null ? null : keys.open(row.id, HOLD_SUBJECT, row.subject);
  const stored = text === null ? null : (JSON.parse(text) as SealedHoldSubject | Subject);
  const sealed = stored !== null && 'keys' in stored ? stored : null;
  return {
    id: row.id,
    subject: row.subject === null ? null : text === null ? { userName: ERASED, emails: [] } : (sealed?.subject ?? (stored as Subject)),
    // Erased (or before 0016): the blind indexes are all there is to show.
    subjectKeys: sealed ? sealed.keys : indexedKeys,
    terminationId: row.termination_id,
    reason: row.reason,
    placedBy: row.placed_by,
    placedAt: new Date(Number(row.placed_at)),
    releasedBy: row.released_by,
    releasedAt: row.released_at === null ? null : new Date(Number(row.released_at)),
    releaseReason: row.release_reason,
  };
}

export class SqlLegalHolds implements LegalHoldStore {
  constructor(
    private readonly ctx: StoreContext,
    private readonly auditLog: SqlAuditLog,
  ) {}

  async placeHold(target: HoldTarget, actor: string, reason: string): Promise<PlacedHold | null> {
    return this.ctx.db.transaction().execute(async (trx) => {
      const now = this.ctx.clock().getTime();
      const id = newId();
      let keys: string[] = [];
      let indexed: string[] = [];
      let terminationId: string | null = null;
      if ('terminationId' in target) {
        const termination = await trx.selectFrom('terminations').select(['id']).where('id', '=', target.terminationId).executeTakeFirst();
        if (!termination) return null;
        terminationId = termination.id;
      } else {
        ({ keys, indexed } = await this.keysOnRecord(trx, target.subject));
      }
      // A subject hold names a person: sealed under a data key of the hold's own.
      const holdKeys = await this.ctx.personal.create(trx, 'subject' in target ? [id] : [], now);
      await trx
        .insertInto('legal_holds')
        .values({
          id,
          subject:
            'subject' in target ? holdKeys.sealJson(id, HOLD_SUBJECT, { subject: target.subject, keys } satisfies SealedHoldSubject) : null,
          termination_id: terminationId,
          reason,
          placed_by: actor,
          placed_at: now,
          released_by: null,
          released_at: null,
          release_reason: null,
        })
        .execute();
      if (indexed.length > 0)
        await trx
          .insertInto('legal_hold_subjects')
          .values(indexed.map((k) => ({ hold_id: id, subject_key: k, pattern: likePatternOf(k) })))
          .execute();
      const covered = await coveredTerminations(trx, terminationId, indexed);
      // A delete claimed before this commit is already at the provider: the hold cannot stop
      // it, and the answer says so rather than letting the operator believe it was held.
      const alreadyRunning = await destructiveTasks(trx, covered, ['running']);
      const alreadyDone = await destructiveTasks(trx, covered, ['succeeded']);
      await this.auditLog.append(
        trx,
        {
          actor,
          action: 'legal_hold.placed',
          terminationId,
          sealWith: terminationId ?? id,
          data: {
            holdId: id,
            reason,
            ...(keys.length > 0 ? { subjectKeys: keys } : {}),
            terminations: covered,
            alreadyRunning: alreadyRunning.map((t) => t.taskId),
            alreadyDone: alreadyDone.map((t) => t.taskId),
          },
        },
        holdKeys,
      );
      const row = await trx.selectFrom('legal_holds').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      return { hold: toLegalHold(row, indexed, holdKeys), terminations: covered, alreadyRunning, alreadyDone };
    });
  }

  async releaseHold(id: string, actor: string, reason: string): Promise<LegalHold | 'released' | null> {
    const result = await this.ctx.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('legal_holds').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return null;
      if (row.released_at !== null) return 'released' as const;
      const now = this.ctx.clock().getTime();
      const updated = await trx
        .updateTable('legal_holds')
        .set({ released_by: actor, released_at: now, release_reason: reason })
        .where('id', '=', id)
        .where('released_at', 'is', null)
        .executeTakeFirst();
      // Released by another operator between the read and the write.
      if (Number(updated.numUpdatedRows) === 0) return 'released' as const;
      const indexed = (await keysOfHolds(trx, [id])).get(id) ?? [];
      const covered = await coveredTerminations(trx, row.termination_id, indexed);
      const holdKeys = await this.ctx.personal.read(trx, [id]);
      const hold = toLegalHold({ ...row, released_by: actor, released_at: now, release_reason: reason }, indexed, holdKeys);
      await this.auditLog.append(
        trx,
        {
          actor,
          action: 'legal_hold.released',
          terminationId: row.termination_id,
          sealWith: row.termination_id ?? id,
          data: { holdId: id, reason, ...(hold.subjectKeys.length > 0 ? { subjectKeys: hold.subjectKeys } : {}), terminations: covered },
        },
        holdKeys,
      );
      // Held deletes may be due now, here and on the other replicas.
      await this.ctx.hooks.notifyOthers(trx);
      return hold;
    });
    if (result !== null && result !== 'released') emitWake(this.ctx);
    return result;
  }

  async listHolds(filter: { active?: boolean } = {}): Promise<LegalHold[]> {
    let query = this.ctx.db.selectFrom('legal_holds').selectAll().orderBy('placed_at', 'desc').orderBy('id');
    if (filter.active === true) query = query.where('released_at', 'is', null);
    if (filter.active === false) query = query.where('released_at', 'is not', null);
    return this.withKeys(await query.execute());
  }

  async holdsCovering(terminationId: string): Promise<LegalHold[]> {
    return this.withKeys(await holdRowsCovering(this.ctx.db, terminationId));
  }

  private async withKeys(rows: Array<Selectable<LegalHoldsTable>>): Promise<LegalHold[]> {
    const ids = rows.map((r) => r.id);
    const indexed = await keysOfHolds(this.ctx.db, ids);
    const keys = await this.ctx.personal.read(this.ctx.db, ids);
    return rows.map((r) => toLegalHold(r, indexed.get(r.id) ?? [], keys));
  }

  /**
   * The keys the subject's own identifiers form, plus the key of every termination on record
   * whose subject shares one of those identifiers exactly: the HRIS may have filed the person
   * under their id while the operator names them by email.
   */
  private async keysOnRecord(trx: Tx, subject: Subject): Promise<{ keys: string[]; indexed: string[] }> {
    const { personal } = this.ctx;
    const given = keysOf(subject);
    const keys = new Set(given);
    const indexed = new Set(given.map((k) => personal.index(k)));
    for (const identifier of new Set(given.map((k) => k.slice(k.indexOf(':') + 1)))) {
      // The identifier as any kind of key: the HRIS id of one record may be the email of another.
      const rows = await trx
        .selectFrom('terminations')
        .select(['id', 'subject_key', 'subject'])
        .where(filedUnderAny(keysOfIdentifier(identifier).map((k) => personal.index(k))))
        .execute();
      const recordKeys = await personal.read(
        trx,
        rows.map((r) => r.id),
      );
      for (const row of rows) {
        indexed.add(row.subject_key);
        const text = recordKeys.open(row.id, SEALED.subject, row.subject);
        if (text !== null) keys.add(subjectKey(JSON.parse(text) as Subject));
      }
    }
    return { keys: [...keys].sort(), indexed: [...indexed].sort() };
  }
}

/**
 * The holds (active and released) on the termination or its subject, oldest first, read
 * through `db` (the store, or a caller's transaction: erasure decides on them in its own).
 */
export async function holdRowsCovering(db: Tx | StoreContext['db'], terminationId: string): Promise<Array<Selectable<LegalHoldsTable>>> {
  return db
    .selectFrom('legal_holds')
    .selectAll()
    .where((w) =>
      w.or([
        w('termination_id', '=', terminationId),
        w.exists(
          w
            .selectFrom('legal_hold_subjects as k')
            .innerJoin('terminations as ht', (join) => join.on(HOLD_KEY_MATCHES))
            .select(sql.lit(1).as('one'))
            .whereRef('k.hold_id', '=', 'legal_holds.id')
            .where('ht.id', '=', terminationId),
        ),
      ]),
    )
    .orderBy('placed_at')
    .orderBy('id')
    .execute();
}

async function keysOfHolds(db: Tx | StoreContext['db'], ids: string[]): Promise<Map<string, string[]>> {
  const byHold = new Map<string, string[]>();
  if (ids.length === 0) return byHold;
  const rows = await db
    .selectFrom('legal_hold_subjects')
    .select(['hold_id', 'subject_key'])
    .where('hold_id', 'in', ids)
    .orderBy('subject_key')
    .execute();
  for (const row of rows) byHold.set(row.hold_id, [...(byHold.get(row.hold_id) ?? []), row.subject_key]);
  return byHold;
}

/** The terminations a hold covers now: its one termination, or every termination whose subject forms one of its keys. */
async function coveredTerminations(trx: Tx, terminationId: string | null, keys: string[]): Promise<string[]> {
  if (terminationId !== null) return [terminationId];
  if (keys.length === 0) return [];
  const rows = await trx.selectFrom('terminations').select(['id']).where(filedUnderAny(keys)).orderBy('requested_at').execute();
  return rows.map((r) => r.id);
}

async function destructiveTasks(trx: Tx, terminations: string[], states: string[]): Promise<HeldTask[]> {
  if (terminations.length === 0) return [];
  const rows = await trx
    .selectFrom('tasks')
    .select(['id', 'termination_id', 'provider', 'action', 'step_id'])
    .where('termination_id', 'in', terminations)
    .where('action', 'in', [...DESTRUCTIVE_ACTIONS])
    .where('state', 'in', states)
    .execute();
  return rows.map((r) => ({ taskId: r.id, terminationId: r.termination_id, provider: r.provider, action: r.action, stepId: r.step_id }));
}
