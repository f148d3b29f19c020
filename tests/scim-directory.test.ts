/**
 * The subject directory (store.directory) on SQLite, and on PostgreSQL when
 * TEST_DATABASE_URL is set (the same Kysely queries must behave the same on both).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectoryConflictError, type DirectoryUserInput } from '../src/store/directory.ts';
import { postgresBackend, sqliteBackend, type StoreBackend, type TestDatabase } from './store/backends.ts';

const backends: StoreBackend[] = [sqliteBackend];
if (process.env.TEST_DATABASE_URL) backends.push(postgresBackend(process.env.TEST_DATABASE_URL));

const input = (userName: string, overrides: Partial<DirectoryUserInput> = {}): DirectoryUserInput => ({
  userName,
  externalId: null,
  active: true,
  managerId: null,
  attributes: { userName, emails: [{ value: userName, primary: true }] },
  ...overrides,
});

for (const backend of backends) {
  describe(`SubjectDirectory on ${backend.name}`, () => {
    let db: TestDatabase;
    let now = Date.parse('2030-01-01T00:00:00Z');

    beforeEach(async () => {
      db = await backend.open(() => new Date(now));
    });
    afterEach(async () => {
      await db.dispose();
    });

    it('createUser then getUser round-trips every field', async () => {
      const created = await db.store.directory.createUser(
        'u1',
        input('Ada@Example.com', { externalId: 'E1', managerId: 'm1', attributes: { nested: { a: [1, true, null] } } }),
      );
      expect(created).toEqual({
        id: 'u1',
        userName: 'Ada@Example.com',
        externalId: 'E1',
        active: true,
        managerId: 'm1',
        attributes: { nested: { a: [1, true, null] } },
        version: 1,
        createdAt: new Date(now),
        updatedAt: new Date(now),
      });
      expect(await db.store.directory.getUser('u1')).toEqual(created);
      expect(await db.store.directory.getUser('nope')).toBeNull();
    });

    it('createUser refuses a userName taken in another case (typed conflict)', async () => {
      await db.store.directory.createUser('u1', input('Ada@Example.com'));
      await expect(db.store.directory.createUser('u2', input('ADA@EXAMPLE.COM'))).rejects.toBeInstanceOf(DirectoryConflictError);
      // Two creates racing past the pre-check: the unique index decides, still as a typed conflict.
      const results = await Promise.allSettled([
        db.store.directory.createUser('r1', input('race@x.com')),
        db.store.directory.createUser('r2', input('RACE@x.com')),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.find((r) => r.status === 'rejected')!;
      expect(rejected.reason).toBeInstanceOf(DirectoryConflictError);
    });

    it('findByUserName is case-insensitive; findByExternalId is exact and may find several', async () => {
      await db.store.directory.createUser('u1', input('Ada@Example.com', { externalId: 'E1' }));
      await db.store.directory.createUser('u2', input('bob@example.com', { externalId: 'E1' }));
      expect((await db.store.directory.findByUserName('ada@EXAMPLE.com'))?.id).toBe('u1');
      expect(await db.store.directory.findByUserName('nobody@example.com')).toBeNull();
      expect((await db.store.directory.findByExternalId('E1')).map((u) => u.id)).toEqual(['u1', 'u2']);
      expect(await db.store.directory.findByExternalId('e1')).toEqual([]);
    });

    it('replaceUser replaces everything, bumps the version, and keeps userName unique', async () => {
      await db.store.directory.createUser('u1', input('ada@example.com'));
      await db.store.directory.createUser('u2', input('bob@example.com'));
      now += 1000;
      const replaced = await db.store.directory.replaceUser('u1', input('ADA@example.com', { active: false, attributes: { title: 'x' } }));
      expect(replaced).toMatchObject({
        userName: 'ADA@example.com',
        active: false,
        attributes: { title: 'x' },
        version: 2,
        updatedAt: new Date(now),
      });
      expect(replaced!.createdAt.getTime()).toBe(now - 1000);
      await expect(db.store.directory.replaceUser('u2', input('Ada@Example.com'))).rejects.toBeInstanceOf(DirectoryConflictError);
      expect(await db.store.directory.replaceUser('missing', input('zed@example.com'))).toBeNull();
    });

    it('deleteUser says whether it deleted', async () => {
      await db.store.directory.createUser('u1', input('ada@example.com'));
      expect(await db.store.directory.deleteUser('u1')).toBe(true);
      expect(await db.store.directory.deleteUser('u1')).toBe(false);
      // The userName is free again.
      await db.store.directory.createUser('u2', input('ada@example.com'));
    });

    it('listUsers pages in creation order with the total', async () => {
      for (let i = 0; i < 5; i += 1) {
        now += 1;
        await db.store.directory.createUser(`u${i}`, input(`user${i}@example.com`));
      }
      const page = await db.store.directory.listUsers({ offset: 1, limit: 2 });
      expect(page.total).toBe(5);
      expect(page.items.map((u) => u.id)).toEqual(['u1', 'u2']);
      expect((await db.store.directory.listUsers({ offset: 4, limit: 10 })).items.map((u) => u.id)).toEqual(['u4']);
      expect(await db.store.directory.listUsers({ offset: 0, limit: 0 })).toEqual({ items: [], total: 5 });
    });
  });
}
