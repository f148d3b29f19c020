/**
 * How a directory user is kept (issue 29, migration 0017): the personal columns sealed under
 * the user's own data key, the looked-up ones as blind indexes, and every subject key of the
 * user, blind-indexed, in `directory_user_keys`. Shared by the SCIM users
 * (directory-users.ts), the start pass that seals rows written before migration 0017
 * (directory-legacy.ts) and the groups, whose members' `display` is sealed under the
 * member's key (directory-groups.ts).
 */
import type { Kysely } from 'kysely';
import { keysOf } from '../../domain/subject.ts';
import type { JsonObject } from '../../domain/types.ts';
import { foldUserName, type DirectoryUser, type DirectoryUserInput } from '../directory.ts';
import type { Database } from '../schema.ts';
import type { PersonalData, RecordKeys } from './personal-data.ts';

export interface DirectoryUsersTable {
  id: string;
  /** Sealed (field `user_name`). */
  user_name: string;
  /** The blind index of `user:<userName lower-cased>`: unique, what `userName eq` looks up. */
  user_name_lower: string;
  /** The blind index of `ext:<externalId>`: what `externalId eq` looks up. */
  external_id: string | null;
  /** The externalId sealed (field `external_id`); null in a row not sealed yet. */
  external_id_sealed: string | null;
  active: number;
  /** Sealed (field `manager_id`): some clients send the manager's HRIS id. */
  manager_id: string | null;
  /** Sealed JSON (field `attributes`). */
  attributes: string;
  version: number;
  created_at: number;
  updated_at: number;
  /** 0 for a row written before migration 0017 (plaintext) until the start pass seals it. */
  sealed: number;
}

export interface DirectoryUserKeysTable {
  user_id: string;
  key_index: string;
}

export interface DirectoryGroupMembersTable {
  group_id: string;
  user_id: string;
  /** Sealed under the member's key (field `memberDisplayField(group_id)`), or null. */
  display: string | null;
}

export interface DirectoryTables {
  directory_users: DirectoryUsersTable;
  directory_user_keys: DirectoryUserKeysTable;
  directory_group_members: DirectoryGroupMembersTable;
}

/** Rows per statement: far below SQLite's and PostgreSQL's bound on bound parameters. */
export const CHUNK = 500;

export function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/** PersonalData works on the store's database type; the directory's handles carry their own tables. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's DB type is invariant, so a handle typed with other tables needs a cast either way
export const asStoreDb = (db: Kysely<any>) => db as unknown as Kysely<Database>;

/**
 * The field a member's `display` is sealed as: bound to its group, so a sealed display
 * copied into another group's membership row does not open there.
 */
export const memberDisplayField = (groupId: string) => `member_display/${groupId}`;

/** The emails of a user's SCIM attributes (`emails[].value`). */
function emailsIn(attributes: JsonObject): string[] {
  if (!Array.isArray(attributes.emails)) return [];
  return attributes.emails.flatMap((email) =>
    email !== null && typeof email === 'object' && !Array.isArray(email) && typeof email.value === 'string' ? [email.value] : [],
  );
}

/** Every subject key the user could be named by (`ext:`, `user:`, `email:`), as keysOf forms them for a termination's subject. */
export function subjectKeysOf(input: Pick<DirectoryUserInput, 'userName' | 'externalId' | 'attributes'>): string[] {
  return keysOf({
    userName: input.userName,
    emails: emailsIn(input.attributes),
    ...(input.externalId ? { externalId: input.externalId } : {}),
  });
}

/** The blind index `userName eq` looks up and the unique index holds. */
export function userNameIndex(personal: PersonalData, userName: string): string {
  return personal.index(`user:${foldUserName(userName)}`);
}

/** The blind index `externalId eq` looks up (exact, as SCIM compares externalId). */
export function externalIdIndex(personal: PersonalData, externalId: string): string {
  return personal.index(`ext:${externalId}`);
}

/** The columns of a user as written: personal ones sealed under the user's key (which `keys` must hold). */
export function sealedColumns(personal: PersonalData, keys: RecordKeys, id: string, input: DirectoryUserInput) {
  return {
    user_name: keys.seal(id, 'user_name', input.userName),
    user_name_lower: userNameIndex(personal, input.userName),
    external_id: input.externalId === null ? null : externalIdIndex(personal, input.externalId),
    external_id_sealed: input.externalId === null ? null : keys.seal(id, 'external_id', input.externalId),
    active: input.active ? 1 : 0,
    manager_id: input.managerId === null ? null : keys.seal(id, 'manager_id', input.managerId),
    attributes: keys.sealJson(id, 'attributes', input.attributes),
    sealed: 1,
  };
}

/**
 * Files users under each of their subject keys' blind indexes. `replace` first drops what
 * they were filed under (a rewrite); a user just created has nothing to drop.
 */
export async function fileSubjectKeys(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- callers hold transactions typed with their own tables
  trx: Kysely<any>,
  personal: PersonalData,
  users: ReadonlyArray<{ id: string; input: DirectoryUserInput }>,
  options: { replace: boolean },
): Promise<void> {
  const db = trx as Kysely<DirectoryTables>;
  if (options.replace) {
    for (const part of chunks(users.map((user) => user.id))) {
      await db.deleteFrom('directory_user_keys').where('user_id', 'in', part).execute();
    }
  }
  const rows = users.flatMap(({ id, input }) =>
    [...new Set(subjectKeysOf(input).map((key) => personal.index(key)))].map((key_index) => ({ user_id: id, key_index })),
  );
  for (const part of chunks(rows)) await db.insertInto('directory_user_keys').values(part).execute();
}

/**
 * The user a row holds, opened with its key. Null when the row is sealed and its key is gone:
 * the user is being erased (the key and the row go in one transaction, and this read saw
 * the row before it and the keyring after it).
 */
export function openUser(row: DirectoryUsersTable, keys: RecordKeys): DirectoryUser | null {
  if (Number(row.sealed) === 1 && !keys.has(row.id)) return null;
  const userName = keys.open(row.id, 'user_name', row.user_name);
  const attributes = keys.open(row.id, 'attributes', row.attributes);
  const managerId = row.manager_id === null ? null : keys.open(row.id, 'manager_id', row.manager_id);
  // A row not sealed yet (the start pass runs before the store serves) holds its externalId in clear.
  const externalId = Number(row.sealed) === 1 ? row.external_id_sealed : row.external_id;
  if (userName === null || attributes === null) return null;
  return {
    id: row.id,
    userName,
    externalId: externalId === null ? null : keys.open(row.id, 'external_id', externalId),
    active: Number(row.active) === 1,
    managerId,
    attributes: JSON.parse(attributes) as JsonObject,
    version: Number(row.version),
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
  };
}

/** The users the rows hold, their keys read in one go; rows whose key is gone are left out (see openUser). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- callers hold handles typed with their own tables
export async function openUsers(db: Kysely<any>, personal: PersonalData, rows: DirectoryUsersTable[]): Promise<DirectoryUser[]> {
  if (rows.length === 0) return [];
  const keys = await personal.read(
    asStoreDb(db),
    rows.map((row) => row.id),
  );
  return rows.map((row) => openUser(row, keys)).filter((user) => user !== null);
}
