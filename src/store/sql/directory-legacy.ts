/**
 * The start pass that seals directory rows written before migration 0017 (plaintext,
 * `sealed` 0): run by SqlStore.migrate() after the migrations, before the store serves,
 * since a migration has no data keys to seal with. Each user gets its data key; its personal
 * columns are sealed, its looked-up columns become blind indexes, it is filed under its
 * subject keys, and its memberships' `display` values are sealed under its key. A batch is
 * one transaction, so a crash leaves each row either as it was or sealed, and the next
 * start picks up what is left. On PostgreSQL replicas starting together lock the batch's
 * rows: the second waits for the first's batch and then no longer sees it as unsealed.
 *
 * The old values stay on disk where the database keeps superseded versions until it reuses
 * their space (SQLite's free pages, PostgreSQL's dead tuples until VACUUM): docs/privacy.md.
 */
import type { Kysely } from 'kysely';
import type { JsonObject } from '../../domain/types.ts';
import type { DirectoryUserInput } from '../directory.ts';
import {
  asStoreDb,
  fileSubjectKeys,
  memberDisplayField,
  sealedColumns,
  type DirectoryTables,
  type DirectoryUsersTable,
} from './directory-rows.ts';
import type { PersonalData } from './personal-data.ts';

/**
 * Users sealed per transaction: well under both dialects' bound on parameters in the upsert,
 * and seconds short of PostgreSQL's statement and idle-in-transaction timeouts. The pass
 * costs about 0.3 ms of CPU a user (a data key, four seals, the blind indexes): 40,000
 * users took 13 to 22 s on a loaded two-core machine.
 */
const BATCH = 500;

/** The columns sealing rewrites (sealedColumns' keys). */
const SEALED_COLUMNS = [
  'user_name',
  'user_name_lower',
  'external_id',
  'external_id_sealed',
  'active',
  'manager_id',
  'attributes',
  'sealed',
] as const satisfies ReadonlyArray<keyof ReturnType<typeof sealedColumns>>;

export interface LegacySealOptions {
  /** Lock the batch's rows (PostgreSQL: FOR UPDATE); SQLite serialises writers anyway. */
  lockRows: boolean;
  now: number;
}

/** Seals every directory row written before migration 0017; returns how many users it sealed. */
export async function sealLegacyDirectory(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the store's database is typed with other tables, and Kysely's DB type is invariant
  db: Kysely<any>,
  personal: PersonalData,
  options: LegacySealOptions,
): Promise<number> {
  const directory = db as Kysely<DirectoryTables>;
  let sealed = 0;
  for (;;) {
    const count = await directory.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('directory_users')
        .selectAll()
        .where('sealed', '=', 0)
        .orderBy('id')
        .limit(BATCH)
        .$if(options.lockRows, (query) => query.forUpdate())
        .execute();
      if (rows.length === 0) return 0;
      const keys = await personal.create(
        asStoreDb(trx),
        rows.map((row) => row.id),
        options.now,
      );
      const users = rows.map((row) => ({ row, input: inputOf(row) }));
      // One statement for the batch rather than one per row: an upsert on rows that exist.
      await trx
        .insertInto('directory_users')
        .values(users.map(({ row, input }) => ({ ...row, ...sealedColumns(personal, keys, row.id, input) })))
        .onConflict((conflict) =>
          conflict
            .column('id')
            .doUpdateSet((eb) => Object.fromEntries(SEALED_COLUMNS.map((column) => [column, eb.ref(`excluded.${column}`)]))),
        )
        .execute();
      await fileSubjectKeys(
        trx,
        personal,
        users.map(({ row, input }) => ({ id: row.id, input })),
        { replace: true },
      );
      const members = await trx
        .selectFrom('directory_group_members')
        .select(['group_id', 'user_id', 'display'])
        .where(
          'user_id',
          'in',
          rows.map((row) => row.id),
        )
        .where('display', 'is not', null)
        .execute();
      for (const member of members) {
        await trx
          .updateTable('directory_group_members')
          .set({ display: keys.seal(member.user_id, memberDisplayField(member.group_id), member.display!) })
          .where('group_id', '=', member.group_id)
          .where('user_id', '=', member.user_id)
          .execute();
      }
      return rows.length;
    });
    sealed += count;
    // A batch can come back short while rows remain: on PostgreSQL, rows another replica's
    // pass had locked drop out of it once that pass commits. Done only when none is left.
    if (count < BATCH && !(await anyLeft(directory))) return sealed;
  }
}

async function anyLeft(db: Kysely<DirectoryTables>): Promise<boolean> {
  return (await db.selectFrom('directory_users').select('id').where('sealed', '=', 0).limit(1).executeTakeFirst()) !== undefined;
}

/** A plaintext row as the input it was written from. */
function inputOf(row: DirectoryUsersTable): DirectoryUserInput {
  return {
    userName: row.user_name,
    externalId: row.external_id,
    active: Number(row.active) === 1,
    managerId: row.manager_id,
    attributes: JSON.parse(row.attributes) as JsonObject,
  };
}
