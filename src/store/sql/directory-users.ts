/**
 * The SCIM users over Kysely (see ../directory.ts for what each call promises), with their
 * personal data sealed (directory-rows.ts): a user's data key is made in the transaction
 * that creates the user and destroyed in the one that deletes or erases it, so a deleted or
 * erased user cannot be read back from any copy of the database.
 */
import type { Kysely } from 'kysely';
import { DirectoryConflictError, type DirectoryUser, type DirectoryUserInput, type SubjectDirectory } from '../directory.ts';
import { touchGroupsOf } from './directory-groups.ts';
import {
  asStoreDb,
  chunks,
  externalIdIndex,
  fileSubjectKeys,
  openUsers,
  sealedColumns,
  userNameIndex,
  type DirectoryTables,
  type DirectoryUsersTable,
} from './directory-rows.ts';
import { pagedList } from './paged-list.ts';
import type { PersonalData, RecordKeys } from './personal-data.ts';

export class SqlSubjectDirectory implements SubjectDirectory {
  private readonly db: Kysely<DirectoryTables>;

  constructor(
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the store's database is typed with other tables, and Kysely's DB type is invariant
    db: Kysely<any>,
    private readonly personal: PersonalData,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.db = db as Kysely<DirectoryTables>;
  }

  async createUser(id: string, input: DirectoryUserInput): Promise<DirectoryUser> {
    const now = this.clock().getTime();
    // No lookup first: the unique index refuses a taken userName (the key made for the entry
    // rolls back with it), and conflictOr names it.
    try {
      return await this.db.transaction().execute(async (trx) => {
        const keys = await this.personal.create(asStoreDb(trx), [id], now);
        const row = await trx
          .insertInto('directory_users')
          .values({ id, ...sealedColumns(this.personal, keys, id, input), version: 1, created_at: now, updated_at: now })
          .returning(['version', 'created_at', 'updated_at'])
          .executeTakeFirstOrThrow();
        await fileSubjectKeys(trx, this.personal, [{ id, input }], { replace: false });
        return asUser(id, input, row);
      });
    } catch (error) {
      throw await this.conflictOr(error, input.userName, id);
    }
  }

  async getUser(id: string): Promise<DirectoryUser | null> {
    const row = await this.db.selectFrom('directory_users').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? ((await this.open([row]))[0] ?? null) : null;
  }

  async findByUserName(userName: string): Promise<DirectoryUser | null> {
    const row = await this.db
      .selectFrom('directory_users')
      .selectAll()
      .where('user_name_lower', '=', userNameIndex(this.personal, userName))
      .executeTakeFirst();
    return row ? ((await this.open([row]))[0] ?? null) : null;
  }

  async findByExternalId(externalId: string): Promise<DirectoryUser[]> {
    const rows = await this.db
      .selectFrom('directory_users')
      .selectAll()
      .where('external_id', '=', externalIdIndex(this.personal, externalId))
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return this.open(rows);
  }

  async replaceUser(id: string, input: DirectoryUserInput): Promise<DirectoryUser | null> {
    const now = this.clock().getTime();
    // No lookup first: the unique index refuses a taken userName, and conflictOr names it.
    try {
      return await this.db.transaction().execute(async (trx) => {
        const keys = await this.keysToWrite(trx, id, now);
        if (!keys) return null;
        const row = await trx
          .updateTable('directory_users')
          .set((eb) => ({ ...sealedColumns(this.personal, keys, id, input), version: eb('version', '+', 1), updated_at: now }))
          .where('id', '=', id)
          .returning(['version', 'created_at', 'updated_at'])
          .executeTakeFirst();
        if (!row) return null;
        await fileSubjectKeys(trx, this.personal, [{ id, input }], { replace: true });
        return asUser(id, input, row);
      });
    } catch (error) {
      throw await this.conflictOr(error, input.userName, id);
    }
  }

  async deleteUser(id: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => (await this.remove(trx, [id])) > 0);
  }

  async listUsers(page: { offset: number; limit: number }): Promise<{ items: DirectoryUser[]; total: number }> {
    const { rows, total } = await pagedList<DirectoryUsersTable>(this.db, 'directory_users', page);
    return { items: await this.open(rows), total };
  }

  async eraseSubject(subjectKeys: string[]): Promise<{ users: number }> {
    return this.db.transaction().execute((trx) => this.eraseSubjectIn(trx, subjectKeys));
  }

  /** `eraseSubject` in the caller's transaction: an erasure of a termination takes the person's directory entries with it. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the caller's transaction is typed with the store's tables, and Kysely's DB type is invariant
  async eraseSubjectIn(storeTrx: Kysely<any>, subjectKeys: string[]): Promise<{ users: number }> {
    const trx = storeTrx as Kysely<DirectoryTables>;
    const indexes = [...new Set(subjectKeys.map((key) => this.personal.index(key)))];
    const ids = new Set<string>();
    for (const part of chunks(indexes)) {
      const rows = await trx.selectFrom('directory_user_keys').select('user_id').where('key_index', 'in', part).execute();
      for (const row of rows) ids.add(row.user_id);
    }
    return { users: await this.remove(trx, [...ids]) };
  }

  /**
   * Deletes users with their data keys, in the caller's transaction: their memberships and
   * subject keys go with the rows (ON DELETE CASCADE), and the groups' versions move with
   * their member lists. Returns how many rows were deleted.
   */
  private async remove(trx: Kysely<DirectoryTables>, ids: string[]): Promise<number> {
    const now = this.clock().getTime();
    let deleted = 0;
    for (const part of chunks(ids)) {
      await touchGroupsOf(trx, part, now);
      const result = await trx.deleteFrom('directory_users').where('id', 'in', part).executeTakeFirst();
      deleted += Number(result.numDeletedRows);
      await this.personal.destroy(asStoreDb(trx), part);
    }
    return deleted;
  }

  /**
   * The key a write of user `id` seals with: its own, or for a row written before migration
   * 0017 (plaintext, the start pass not run on it yet) a new one; null when there is no such user.
   */
  private async keysToWrite(trx: Kysely<DirectoryTables>, id: string, now: number): Promise<RecordKeys | null> {
    const keys = await this.personal.read(asStoreDb(trx), [id]);
    if (keys.has(id)) return keys;
    const row = await trx.selectFrom('directory_users').select('sealed').where('id', '=', id).executeTakeFirst();
    if (!row || Number(row.sealed) === 1) return null; // gone, or being erased
    return this.personal.create(asStoreDb(trx), [id], now);
  }

  private open(rows: DirectoryUsersTable[]): Promise<DirectoryUser[]> {
    return openUsers(this.db, this.personal, rows);
  }

  /**
   * A write that failed because another entry took the userName meanwhile is a conflict;
   * anything else (the database is down) is rethrown as it is. Decided by reading the
   * index's state back, so no driver-specific error code is needed.
   */
  private async conflictOr(error: unknown, userName: string, id: string): Promise<unknown> {
    const holder = await this.findByUserName(userName).catch(() => null);
    return holder && holder.id !== id ? new DirectoryConflictError(userName) : error;
  }
}

/** The user just written, from what was written: nothing to open. */
function asUser(
  id: string,
  input: DirectoryUserInput,
  row: Pick<DirectoryUsersTable, 'version' | 'created_at' | 'updated_at'>,
): DirectoryUser {
  return {
    id,
    userName: input.userName,
    externalId: input.externalId,
    active: input.active,
    managerId: input.managerId,
    // A copy, as a read gives: the caller's object stays the caller's.
    attributes: JSON.parse(JSON.stringify(input.attributes)) as DirectoryUserInput['attributes'],
    version: Number(row.version),
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
  };
}
