/**
 * SCIM Groups in the store (store.groups) on SQLite, and on PostgreSQL when
 * TEST_DATABASE_URL is set: memberships, their audit, optimistic versions, and a deleted
 * user leaving its groups.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GroupMemberNotFoundError, GroupVersionConflictError, type DirectoryGroupInput } from '../src/store/directory-groups.ts';
import type { DirectoryUserInput } from '../src/store/directory.ts';
import { postgresBackend, sqliteBackend, type StoreBackend, type TestDatabase } from './store/backends.ts';

const backends: StoreBackend[] = [sqliteBackend];
if (process.env.TEST_DATABASE_URL) backends.push(postgresBackend(process.env.TEST_DATABASE_URL));

const user = (userName: string): DirectoryUserInput => ({
  userName,
  externalId: null,
  active: true,
  managerId: null,
  attributes: { userName },
});
const group = (displayName: string, members: string[] = [], externalId: string | null = null): DirectoryGroupInput => ({
  displayName,
  externalId,
  members: members.map((value) => ({ value, display: null })),
});
const actor = { actor: 'scim:token-0' };

for (const backend of backends) {
  describe(`GroupDirectory on ${backend.name}`, () => {
    let db: TestDatabase;
    let now = Date.parse('2030-01-01T00:00:00Z');

    beforeEach(async () => {
      db = await backend.open(() => new Date(now));
      for (const id of ['u1', 'u2', 'u3']) await db.store.directory.createUser(id, user(`${id}@example.com`));
    });
    afterEach(async () => {
      await db.dispose();
    });

    it('createGroup then getGroup round-trips name, externalId, members and their display', async () => {
      const created = await db.store.groups.createGroup(
        'g1',
        {
          displayName: 'Engineers',
          externalId: 'X1',
          members: [
            { value: 'u2', display: 'Bo' },
            { value: 'u1', display: null },
          ],
        },
        actor,
      );
      expect(created).toEqual({
        id: 'g1',
        displayName: 'Engineers',
        externalId: 'X1',
        members: [
          { value: 'u1', display: null },
          { value: 'u2', display: 'Bo' },
        ],
        version: 1,
        createdAt: new Date(now),
        updatedAt: new Date(now),
      });
      expect(await db.store.groups.getGroup('g1')).toEqual(created);
      expect(await db.store.groups.getGroup('g1', { members: false })).toEqual({ ...created, members: [] });
      expect(await db.store.groups.getGroup('nope')).toBeNull();
    });

    it('refuses members that are not directory users, writing nothing', async () => {
      await expect(db.store.groups.createGroup('g1', group('G', ['u1', 'ghost']), actor)).rejects.toBeInstanceOf(GroupMemberNotFoundError);
      expect(await db.store.groups.getGroup('g1')).toBeNull();
      await db.store.groups.createGroup('g2', group('G', ['u1']), actor);
      await expect(db.store.groups.replaceGroup('g2', group('G', ['u1', 'ghost']), actor)).rejects.toBeInstanceOf(GroupMemberNotFoundError);
      expect((await db.store.groups.getGroup('g2'))?.members.map((m) => m.value)).toEqual(['u1']);
    });

    it('replaceGroup diffs the members, bumps the version and audits who was added and removed (ids only)', async () => {
      await db.store.groups.createGroup('g1', group('G', ['u1', 'u2']), actor);
      now += 1000;
      const replaced = await db.store.groups.replaceGroup('g1', group('G2', ['u2', 'u3', 'u3']), actor);
      expect(replaced).toMatchObject({
        displayName: 'G2',
        version: 2,
        updatedAt: new Date(now),
        members: [{ value: 'u2' }, { value: 'u3' }],
      });
      const audit = await db.store.listAudit(0, 100);
      expect(audit.map((entry) => [entry.action, entry.actor, entry.data])).toEqual([
        ['scim.group.created', 'scim:token-0', { groupId: 'g1', added: ['u1', 'u2'] }],
        ['scim.group.members_changed', 'scim:token-0', { groupId: 'g1', added: ['u3'], removed: ['u1'] }],
      ]);
      // A rename alone changes no membership: no audit entry, but a new version.
      expect((await db.store.groups.replaceGroup('g1', group('G3', ['u2', 'u3']), actor))?.version).toBe(3);
      expect(await db.store.listAudit(0, 100)).toHaveLength(2);
      expect(await db.store.groups.replaceGroup('missing', group('G'), actor)).toBeNull();
    });

    it('an expected version that moved refuses the write (conflict), and a missing group is null either way', async () => {
      await db.store.groups.createGroup('g1', group('G', ['u1']), actor);
      await expect(db.store.groups.replaceGroup('g1', group('G', []), { ...actor, expectedVersion: 7 })).rejects.toBeInstanceOf(
        GroupVersionConflictError,
      );
      await expect(db.store.groups.deleteGroup('g1', { ...actor, expectedVersion: 7 })).rejects.toBeInstanceOf(GroupVersionConflictError);
      expect((await db.store.groups.replaceGroup('g1', group('G', []), { ...actor, expectedVersion: 1 }))?.version).toBe(2);
      expect(await db.store.groups.replaceGroup('nope', group('G'), { ...actor, expectedVersion: 1 })).toBeNull();
      expect(await db.store.groups.deleteGroup('g1', { ...actor, expectedVersion: 2 })).toBe(true);
      expect(await db.store.groups.deleteGroup('g1', actor)).toBe(false);
    });

    it('finds groups by displayName (any case), externalId (exact) and member; lists pages with a total', async () => {
      await db.store.groups.createGroup('g1', group('Sales', ['u1'], 'E1'), actor);
      now += 1;
      await db.store.groups.createGroup('g2', group('sales', ['u1', 'u2']), actor);
      now += 1;
      await db.store.groups.createGroup('g3', group('Eng', [], 'e1'), actor);
      const ids = (groups: Array<{ id: string }>) => groups.map((g) => g.id);
      expect(ids(await db.store.groups.findGroups('displayName', 'SALES'))).toEqual(['g1', 'g2']);
      expect(ids(await db.store.groups.findGroups('externalId', 'E1'))).toEqual(['g1']);
      expect(ids(await db.store.groups.findGroups('member', 'u2'))).toEqual(['g2']);
      expect((await db.store.groups.findGroups('member', 'u1', { members: false })).map((g) => g.members)).toEqual([[], []]);
      const page = await db.store.groups.listGroups({ offset: 1, limit: 1 });
      expect({ ids: ids(page.items), total: page.total }).toEqual({ ids: ['g2'], total: 3 });
      expect(await db.store.groups.groupsOf('u1')).toEqual([
        { id: 'g1', displayName: 'Sales', externalId: 'E1' },
        { id: 'g2', displayName: 'sales', externalId: null },
      ]);
      const many = await db.store.groups.groupsOfUsers(['u2', 'u1', 'u2', 'nobody']);
      expect(Object.fromEntries([...many].map(([user, groups]) => [user, ids(groups)]))).toEqual({ u1: ['g1', 'g2'], u2: ['g2'] });
    });

    it('deleting a user removes it from its groups and moves their versions; deleting a group keeps its users', async () => {
      await db.store.groups.createGroup('g1', group('G', ['u1', 'u2']), actor);
      await db.store.groups.createGroup('g2', group('H', ['u2']), actor);
      expect(await db.store.directory.deleteUser('u1')).toBe(true);
      expect(await db.store.groups.getGroup('g1')).toMatchObject({ version: 2, members: [{ value: 'u2' }] });
      expect((await db.store.groups.getGroup('g2'))?.version).toBe(1);
      expect(await db.store.groups.deleteGroup('g2', actor)).toBe(true);
      expect(await db.store.directory.getUser('u2')).not.toBeNull();
      expect(await db.store.groups.groupsOf('u2')).toEqual([{ id: 'g1', displayName: 'G', externalId: null }]);
      const audit = await db.store.listAudit(0, 100);
      expect(audit.at(-1)).toMatchObject({ action: 'scim.group.deleted', data: { groupId: 'g2', removed: ['u2'] } });
    });
  });
}
