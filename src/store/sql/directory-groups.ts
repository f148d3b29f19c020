/**
 * SCIM Groups over Kysely (see ../directory-groups.ts for what each call promises). A
 * write and the audit entry of its membership change share one transaction, so the audit
 * never says a member was added that is not, and the other way round.
 *
 * A group's name and externalId are the organisation's, not a person's, and are kept as
 * sent. A member's `display` is usually the person's name (Okta sends one): it is sealed
 * under the member's own data key (directory-rows.ts), so erasing the user erases it too.
 */
import type { Kysely, Transaction } from 'kysely';
import type { NewAuditEntry } from '../store.ts';
import type { Database } from '../schema.ts';
import { asStoreDb, chunks, memberDisplayField, type DirectoryGroupMembersTable } from './directory-rows.ts';
import { pagedList } from './paged-list.ts';
import type { PersonalData, RecordKeys } from './personal-data.ts';
import {
  GroupMemberNotFoundError,
  GroupVersionConflictError,
  type DirectoryGroup,
  type DirectoryGroupInput,
  type GroupDirectory,
  type GroupMember,
  type GroupReadOptions,
  type GroupSummary,
  type GroupWrite,
} from '../directory-groups.ts';

interface DirectoryGroupsTable {
  id: string;
  display_name: string;
  display_name_lower: string;
  external_id: string | null;
  version: number;
  created_at: number;
  updated_at: number;
}

type GroupTables = {
  directory_groups: DirectoryGroupsTable;
  directory_group_members: DirectoryGroupMembersTable;
  directory_users: { id: string };
};
type Tables = Database & GroupTables;

/** How the audit log appends inside a caller's transaction (SqlAuditLog.append). */
export interface AuditAppender {
  append(trx: Transaction<Database>, entry: NewAuditEntry): Promise<void>;
}

const ALL_MEMBERS: GroupReadOptions = { members: true };

/** One entry per member id; a repeated id keeps its last `display` (a client listing a member twice means it once). */
function uniqueMembers(members: GroupMember[]): Map<string, string | null> {
  return new Map(members.map((member) => [member.value, member.display]));
}

export class SqlDirectoryGroups implements GroupDirectory {
  private readonly db: Kysely<Tables>;

  constructor(
    db: Kysely<Database>,
    private readonly personal: PersonalData,
    private readonly audit: AuditAppender,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.db = db.withTables<GroupTables>();
  }

  async createGroup(id: string, input: DirectoryGroupInput, write: GroupWrite): Promise<DirectoryGroup> {
    const now = this.clock().getTime();
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('directory_groups')
        .values({ id, ...columns(input), version: 1, created_at: now, updated_at: now })
        .returningAll()
        .executeTakeFirstOrThrow();
      const members = uniqueMembers(input.members);
      await insertMembers(trx, this.personal, id, [...members]);
      await this.auditIn(trx, write.actor, 'scim.group.created', { groupId: id, added: [...members.keys()] });
      return toGroup(row, await membersOf(trx, this.personal, [id]));
    });
  }

  async getGroup(id: string, options = ALL_MEMBERS): Promise<DirectoryGroup | null> {
    const row = await this.db.selectFrom('directory_groups').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? (await this.withMembers([row], options))[0]! : null;
  }

  async findGroups(by: 'displayName' | 'externalId' | 'member', value: string, options = ALL_MEMBERS): Promise<DirectoryGroup[]> {
    let query = this.db.selectFrom('directory_groups').selectAll();
    if (by === 'displayName') query = query.where('display_name_lower', '=', value.toLowerCase());
    else if (by === 'externalId') query = query.where('external_id', '=', value);
    else query = query.where('id', 'in', (eb) => eb.selectFrom('directory_group_members').select('group_id').where('user_id', '=', value));
    return this.withMembers(await query.orderBy('created_at').orderBy('id').execute(), options);
  }

  async listGroups(page: { offset: number; limit: number }, options = ALL_MEMBERS): Promise<{ items: DirectoryGroup[]; total: number }> {
    const { rows, total } = await pagedList<DirectoryGroupsTable>(this.db, 'directory_groups', page);
    return { items: await this.withMembers(rows, options), total };
  }

  async replaceGroup(id: string, input: DirectoryGroupInput, write: GroupWrite): Promise<DirectoryGroup | null> {
    const now = this.clock().getTime();
    return this.db.transaction().execute(async (trx) => {
      let update = trx
        .updateTable('directory_groups')
        .set((eb) => ({ ...columns(input), version: eb('version', '+', 1), updated_at: now }))
        .where('id', '=', id);
      if (write.expectedVersion !== undefined) update = update.where('version', '=', write.expectedVersion);
      const row = await update.returningAll().executeTakeFirst();
      if (!row) return this.missingOrConflict(trx, id, write);

      const stored = new Map((await membersOf(trx, this.personal, [id])).get(id)?.map((m) => [m.value, m.display]) ?? []);
      const next = uniqueMembers(input.members);
      const removed = [...stored.keys()].filter((userId) => !next.has(userId));
      const added = [...next].filter(([userId]) => !stored.has(userId));
      const redisplayed = [...next].filter(([userId, display]) => stored.has(userId) && stored.get(userId) !== display);
      for (const part of chunks(removed)) {
        await trx.deleteFrom('directory_group_members').where('group_id', '=', id).where('user_id', 'in', part).execute();
      }
      await insertMembers(trx, this.personal, id, added);
      const keys = await readKeys(trx, this.personal, redisplayed);
      for (const [userId, display] of redisplayed) {
        await trx
          .updateTable('directory_group_members')
          .set({ display: sealDisplay(keys, id, userId, display) })
          .where('group_id', '=', id)
          .where('user_id', '=', userId)
          .execute();
      }
      if (added.length > 0 || removed.length > 0) {
        await this.auditIn(trx, write.actor, 'scim.group.members_changed', {
          groupId: id,
          added: added.map(([userId]) => userId),
          removed,
        });
      }
      return toGroup(row, await membersOf(trx, this.personal, [id]));
    });
  }

  async deleteGroup(id: string, write: GroupWrite): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const members = (await membersOf(trx, this.personal, [id])).get(id) ?? [];
      let remove = trx.deleteFrom('directory_groups').where('id', '=', id);
      if (write.expectedVersion !== undefined) remove = remove.where('version', '=', write.expectedVersion);
      const result = await remove.executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) {
        await this.missingOrConflict(trx, id, write); // throws when only the version differed
        return false;
      }
      await this.auditIn(trx, write.actor, 'scim.group.deleted', { groupId: id, removed: members.map((m) => m.value) });
      return true;
    });
  }

  async groupsOf(userId: string): Promise<GroupSummary[]> {
    return (await this.groupsOfUsers([userId])).get(userId) ?? [];
  }

  async groupsOfUsers(userIds: readonly string[]): Promise<Map<string, GroupSummary[]>> {
    const byUser = new Map<string, GroupSummary[]>();
    for (const part of chunks([...new Set(userIds)])) {
      const rows = await this.db
        .selectFrom('directory_groups as g')
        .innerJoin('directory_group_members as m', 'm.group_id', 'g.id')
        .select(['m.user_id', 'g.id', 'g.display_name', 'g.external_id'])
        .where('m.user_id', 'in', part)
        .orderBy('g.created_at')
        .orderBy('g.id')
        .execute();
      for (const row of rows) {
        const list = byUser.get(row.user_id) ?? [];
        list.push({ id: row.id, displayName: row.display_name, externalId: row.external_id });
        byUser.set(row.user_id, list);
      }
    }
    return byUser;
  }

  /** After a write that matched no row: null when the group is gone, a conflict when only the version differed. */
  private async missingOrConflict(trx: Transaction<Tables>, id: string, write: GroupWrite): Promise<null> {
    const exists = await trx.selectFrom('directory_groups').select('id').where('id', '=', id).executeTakeFirst();
    if (exists && write.expectedVersion !== undefined) throw new GroupVersionConflictError(id, write.expectedVersion);
    return null;
  }

  private async withMembers(rows: DirectoryGroupsTable[], options: GroupReadOptions): Promise<DirectoryGroup[]> {
    const members = options.members
      ? await membersOf(
          this.db,
          this.personal,
          rows.map((row) => row.id),
        )
      : new Map<string, GroupMember[]>();
    return rows.map((row) => toGroup(row, members));
  }

  private auditIn(
    trx: Transaction<Tables>,
    actor: string,
    action: string,
    data: { groupId: string; added?: string[]; removed?: string[] },
  ): Promise<void> {
    return this.audit.append(trx as unknown as Transaction<Database>, { actor, action, data });
  }
}

function columns(input: DirectoryGroupInput) {
  return { display_name: input.displayName, display_name_lower: input.displayName.toLowerCase(), external_id: input.externalId };
}

/** Inserts memberships, refusing (nothing written: the transaction rolls back) any id that is not a directory user. */
async function insertMembers(
  trx: Transaction<Tables>,
  personal: PersonalData,
  groupId: string,
  members: Array<[string, string | null]>,
): Promise<void> {
  for (const part of chunks(members)) {
    const ids = part.map(([userId]) => userId);
    const known = new Set((await trx.selectFrom('directory_users').select('id').where('id', 'in', ids).execute()).map((row) => row.id));
    const missing = ids.filter((userId) => !known.has(userId));
    if (missing.length > 0) throw new GroupMemberNotFoundError(missing);
    const keys = await readKeys(trx, personal, part);
    await trx
      .insertInto('directory_group_members')
      .values(
        part.map(([userId, display]) => ({ group_id: groupId, user_id: userId, display: sealDisplay(keys, groupId, userId, display) })),
      )
      .execute();
  }
}

/** The data keys of the members that have a display to seal or open. */
async function readKeys(db: Kysely<Tables>, personal: PersonalData, members: Array<[string, string | null]>): Promise<RecordKeys> {
  return personal.read(
    asStoreDb(db),
    members.filter(([, display]) => display !== null).map(([userId]) => userId),
  );
}

/**
 * A member's display sealed under the member's key. A member without one (a row written
 * before migration 0017 that the start pass has not sealed yet, which cannot happen once the
 * store serves) keeps no display rather than one in clear.
 */
function sealDisplay(keys: RecordKeys, groupId: string, userId: string, display: string | null): string | null {
  return display !== null && keys.has(userId) ? keys.seal(userId, memberDisplayField(groupId), display) : null;
}

/** The members of each group, in a stable order (by user id: ids are time-ordered, so roughly by creation). */
async function membersOf(db: Kysely<Tables>, personal: PersonalData, groupIds: string[]): Promise<Map<string, GroupMember[]>> {
  const rows: DirectoryGroupMembersTable[] = [];
  for (const part of chunks(groupIds)) {
    rows.push(
      ...(await db
        .selectFrom('directory_group_members')
        .selectAll()
        .where('group_id', 'in', part)
        .orderBy('group_id')
        .orderBy('user_id')
        .execute()),
    );
  }
  const keys = await readKeys(
    db,
    personal,
    rows.map((row) => [row.user_id, row.display]),
  );
  const byGroup = new Map<string, GroupMember[]>();
  for (const row of rows) {
    const list = byGroup.get(row.group_id) ?? [];
    // A member whose key is gone is being erased with its membership: no display.
    const display = row.display === null ? null : keys.open(row.user_id, memberDisplayField(row.group_id), row.display);
    list.push({ value: row.user_id, display });
    byGroup.set(row.group_id, list);
  }
  return byGroup;
}

function toGroup(row: DirectoryGroupsTable, members: Map<string, GroupMember[]>): DirectoryGroup {
  return {
    id: row.id,
    displayName: row.display_name,
    externalId: row.external_id,
    members: members.get(row.id) ?? [],
    version: Number(row.version),
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
  };
}

/**
 * Moves the version of every group the users are members of: called in the transaction that
 * deletes the users (at most CHUNK of them), whose memberships go with them (ON DELETE
 * CASCADE), so the groups' ETags change with their member lists.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- callers hold transactions typed with their own tables, and Kysely's DB type is invariant
export async function touchGroupsOf(trx: Kysely<any>, userIds: readonly string[], now: number): Promise<void> {
  const db = trx as Kysely<Tables>;
  await db
    .updateTable('directory_groups')
    .set((eb) => ({ version: eb('version', '+', 1), updated_at: now }))
    .where('id', 'in', (eb) => eb.selectFrom('directory_group_members').select('group_id').where('user_id', 'in', userIds))
    .execute();
}
