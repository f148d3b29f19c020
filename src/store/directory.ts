/**
 * The subject directory: the users SCIM clients (Okta, Entra) push to us, so that a later
 * deactivation can be turned into a Subject with every identifier the provider adapters
 * resolve accounts by. Kept beside the Store on the same Kysely instance; its table type
 * lives here so the shared schema stays untouched (as webhook-deliveries.ts does).
 */
import type { Kysely } from 'kysely';
import type { JsonObject } from '../domain/types.ts';
import { touchGroupsOf } from './sql/directory-groups.ts';
import { pagedList } from './sql/paged-list.ts';
import { eraseDirectorySubject } from './directory-erase.ts';

export interface DirectoryUser {
  id: string;
  userName: string;
  externalId: string | null;
  active: boolean;
  /** Enterprise extension `manager.value`: the id of the manager's own entry, when known. */
  managerId: string | null;
  /** The SCIM attributes as the client sent them (core and extensions), without id, meta, schemas or password. */
  attributes: JsonObject;
  /** Starts at 1, bumped by every write. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface DirectoryUserInput {
  userName: string;
  externalId: string | null;
  active: boolean;
  managerId: string | null;
  attributes: JsonObject;
}

/** Another entry already holds this userName (compared case-insensitively). */
export class DirectoryConflictError extends Error {
  constructor(readonly userName: string) {
    super('a user with this userName already exists');
    this.name = 'DirectoryConflictError';
  }
}

export interface SubjectDirectory {
  /** Throws DirectoryConflictError when the userName is taken (case-insensitive). */
  createUser(id: string, input: DirectoryUserInput): Promise<DirectoryUser>;
  getUser(id: string): Promise<DirectoryUser | null>;
  /** Case-insensitive, indexed. */
  findByUserName(userName: string): Promise<DirectoryUser | null>;
  /** Indexed; externalId is not unique in SCIM, so several entries may share one. */
  findByExternalId(externalId: string): Promise<DirectoryUser[]>;
  /** Replaces every attribute; null when the entry does not exist. Throws DirectoryConflictError on a taken userName. */
  replaceUser(id: string, input: DirectoryUserInput): Promise<DirectoryUser | null>;
  /** False when the entry did not exist. */
  deleteUser(id: string): Promise<boolean>;
  /** One page in creation order (`offset` from 0), with the total number of entries. */
  listUsers(page: { offset: number; limit: number }): Promise<{ items: DirectoryUser[]; total: number }>;
  /** Erasure (issue 29): deletes the users filed under any of the subject's keys (`ext:…`, `user:…`). */
  eraseSubject(subjectKeys: string[]): Promise<{ users: number }>;
}

interface DirectoryUsersTable {
  id: string;
  user_name: string;
  user_name_lower: string;
  external_id: string | null;
  active: number;
  manager_id: string | null;
  attributes: string;
  version: number;
  created_at: number;
  updated_at: number;
}

interface Tables {
  directory_users: DirectoryUsersTable;
}

/** Lower-casing in JS, not SQL: SQLite's lower() only folds ASCII, so both dialects must agree on one rule. */
export const foldUserName = (userName: string) => userName.toLowerCase();

export class SqlSubjectDirectory implements SubjectDirectory {
  private readonly db: Kysely<Tables>;

  constructor(
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the store's database and a caller's own transaction (the bench seeds in one) are typed with other tables, and Kysely's DB type is invariant
    db: Kysely<any>,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.db = db as Kysely<Tables>;
  }

  async createUser(id: string, input: DirectoryUserInput): Promise<DirectoryUser> {
    const now = this.clock().getTime();
    // No lookup first: the unique index refuses a taken userName, and conflictOr names it.
    try {
      const row = await this.db
        .insertInto('directory_users')
        .values({ id, ...this.columns(input), version: 1, created_at: now, updated_at: now })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toUser(row);
    } catch (error) {
      throw await this.conflictOr(error, input.userName, id);
    }
  }

  async getUser(id: string): Promise<DirectoryUser | null> {
    const row = await this.db.selectFrom('directory_users').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toUser(row) : null;
  }

  async findByUserName(userName: string): Promise<DirectoryUser | null> {
    const row = await this.db
      .selectFrom('directory_users')
      .selectAll()
      .where('user_name_lower', '=', foldUserName(userName))
      .executeTakeFirst();
    return row ? toUser(row) : null;
  }

  async findByExternalId(externalId: string): Promise<DirectoryUser[]> {
    const rows = await this.db
      .selectFrom('directory_users')
      .selectAll()
      .where('external_id', '=', externalId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toUser);
  }

  async replaceUser(id: string, input: DirectoryUserInput): Promise<DirectoryUser | null> {
    // No lookup first: the unique index refuses a taken userName, and conflictOr names it.
    let row: DirectoryUsersTable | undefined;
    try {
      row = await this.db
        .updateTable('directory_users')
        .set((eb) => ({ ...this.columns(input), version: eb('version', '+', 1), updated_at: this.clock().getTime() }))
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
    } catch (error) {
      throw await this.conflictOr(error, input.userName, id);
    }
    return row ? toUser(row) : null;
  }

  async deleteUser(id: string): Promise<boolean> {
    // Its group memberships go with it (ON DELETE CASCADE); the groups' versions move with their member lists.
    return this.db.transaction().execute(async (trx) => {
      await touchGroupsOf(trx, id, this.clock().getTime());
      const result = await trx.deleteFrom('directory_users').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }

  eraseSubject(subjectKeys: string[]): Promise<{ users: number }> {
    const erase = (db: Kysely<Tables>) => eraseDirectorySubject(db, subjectKeys, this.clock().getTime());
    // On an erasure's transaction (src/store/sql/erasure.ts) it runs in that one.
    return this.db.isTransaction ? erase(this.db) : this.db.transaction().execute(erase);
  }

  async listUsers(page: { offset: number; limit: number }): Promise<{ items: DirectoryUser[]; total: number }> {
    const { rows, total } = await pagedList<DirectoryUsersTable>(this.db, 'directory_users', page);
    return { items: rows.map(toUser), total };
  }

  private columns(input: DirectoryUserInput) {
    return {
      user_name: input.userName,
      user_name_lower: foldUserName(input.userName),
      external_id: input.externalId,
      active: input.active ? 1 : 0,
      manager_id: input.managerId,
      attributes: JSON.stringify(input.attributes),
    };
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

function toUser(row: DirectoryUsersTable): DirectoryUser {
  return {
    id: row.id,
    userName: row.user_name,
    externalId: row.external_id,
    active: Number(row.active) === 1,
    managerId: row.manager_id,
    attributes: JSON.parse(row.attributes) as JsonObject,
    version: Number(row.version),
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
  };
}
