/**
 * The SCIM directory's personal data at rest (issue 29), on SQLite and on PostgreSQL when
 * TEST_DATABASE_URL is set: a user's identifiers are in no stored byte (SQLite: the file,
 * its WAL and the keyring's, read raw after a checkpoint) and no column of any table
 * (PostgreSQL), yet read back and looked up; eraseSubject makes them unrecoverable, a
 * restored copy of the rows included; rows written before migration 0017 are sealed by the
 * start pass.
 */
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectoryConflictError, type DirectoryUserInput } from '../src/store/directory.ts';
import type { SqlStore } from '../src/store/sql-store.ts';
import { createSqliteStore, defaultKeyringPath } from '../src/store/sqlite.ts';
import { postgresBackend } from './store/backends.ts';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** A store, and the same database reached without it: what a backup, a restore or an older version sees. */
interface SealedDb {
  store: SqlStore;

  raw: Kysely<any>;
  /** Where `raw` finds the keyring's table. */
  keyringSchema: string;
  /** Other stores on the same database, as replicas starting together hold (SQLite: the same store). */
  replicas(n: number): Promise<SqlStore[]>;
  /** Every stored value, as text: SQLite's files read byte by byte, PostgreSQL's tables row by row. */
  stored(): Promise<string>;
  /** Every column of every table, as text (both dialects). */
  columns(): Promise<string>;
  dispose(): Promise<void>;
}

interface Backend {
  name: string;
  open(clock: () => Date): Promise<SealedDb>;
}

async function allRows(raw: Kysely<any>, tables: Array<{ schema?: string; name: string }>): Promise<string> {
  const out: string[] = [];
  for (const table of tables) {
    const db = table.schema ? raw.withSchema(table.schema) : raw;
    out.push(JSON.stringify(await db.selectFrom(table.name).selectAll().execute()));
  }
  return out.join('\n');
}

const sqlite: Backend = {
  name: 'sqlite',
  async open(clock) {
    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-sealed-'));
    const path = join(dir, 'store.db');
    const store = createSqliteStore(path, clock);
    await store.migrate();
    const connection = new BetterSqlite3(path);
    connection.prepare('attach database ? as keyring').run(defaultKeyringPath(path));
    const raw = new Kysely<any>({ dialect: new SqliteDialect({ database: connection }) });
    const files = [path, `${path}-wal`, defaultKeyringPath(path), `${defaultKeyringPath(path)}-wal`];
    return {
      store,
      raw,
      keyringSchema: 'keyring',
      replicas: async (n) => Array.from({ length: n }, () => store),
      async stored() {
        await store.durable();
        // Pages copied into the files; the WAL keeps its frames (a passive checkpoint does not truncate it): both are read.
        connection.pragma('main.wal_checkpoint(PASSIVE)');
        connection.pragma('keyring.wal_checkpoint(PASSIVE)');
        return files
          .filter((file) => existsSync(file))
          .map((file) => readFileSync(file).toString('latin1'))
          .join('\n');
      },
      async columns() {
        const tables = connection
          .prepare(`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`)
          .all() as Array<{
          name: string;
        }>;
        return allRows(raw, [...tables, { schema: 'keyring', name: 'data_keys' }]);
      },
      async dispose() {
        await raw.destroy();
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

function postgres(url: string): Backend {
  const backend = postgresBackend(url);
  return {
    name: 'postgres',
    async open(clock) {
      const db = await backend.open(clock);
      const pool = new pg.Pool({ connectionString: url, max: 2, options: `-c search_path=${db.schema}` });
      const raw = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
      const columns = async () => {
        const tables = await raw
          .withSchema('information_schema')
          .selectFrom('tables')
          .select(['table_schema as schema', 'table_name as name'])
          .where('table_schema', 'in', [db.schema, `${db.schema}_keyring`])
          .execute();
        return allRows(raw, tables);
      };
      return {
        store: db.store,
        raw,
        keyringSchema: `${db.schema}_keyring`,
        replicas: (n) => db.replicas(n),
        stored: columns,
        columns,
        async dispose() {
          await raw.destroy();
          await db.dispose();
        },
      };
    },
  };
}

const backends: Backend[] = [sqlite];
if (process.env.TEST_DATABASE_URL) backends.push(postgres(process.env.TEST_DATABASE_URL));

/** Grace's identifiers, each of which must appear nowhere stored, in any case. */
const SECRETS = ['grace.hopper', 'amazing.grace', 'HR-190612', 'HR-MGR-77', 'Hopperton', 'Brewster'];

const grace = (overrides: Partial<DirectoryUserInput> = {}): DirectoryUserInput => ({
  userName: 'Grace.Hopper@Navy.example',
  externalId: 'HR-190612',
  active: true,
  managerId: 'HR-MGR-77',
  attributes: {
    userName: 'Grace.Hopper@Navy.example',
    externalId: 'HR-190612',
    displayName: 'Grace Brewster Hopperton',
    name: { givenName: 'Grace', familyName: 'Hopperton' },
    emails: [{ value: 'grace.hopper@navy.example', primary: true }, { value: 'amazing.grace@home.example' }],
    [ENTERPRISE]: { manager: { value: 'HR-MGR-77' } },
  },
  ...overrides,
});

const alan: DirectoryUserInput = {
  userName: 'alan@example.com',
  externalId: 'E-ALAN',
  active: true,
  managerId: null,
  attributes: { userName: 'alan@example.com', emails: [{ value: 'alan@example.com' }] },
};

function expectNoSecret(text: string): void {
  const lower = text.toLowerCase();
  for (const secret of SECRETS) expect(lower.includes(secret.toLowerCase()), `"${secret}" is stored in clear`).toBe(false);
}

for (const backend of backends) {
  describe(`the SCIM directory sealed, on ${backend.name}`, () => {
    let db: SealedDb;
    let now = Date.parse('2030-01-01T00:00:00Z');
    const actor = { actor: 'scim:token-0' };

    beforeEach(async () => {
      now = Date.parse('2030-01-01T00:00:00Z');
      db = await backend.open(() => new Date(now));
    });
    afterEach(async () => {
      await db.dispose();
    });

    it("keeps a user's userName, emails, externalId, name, manager and group display out of every stored byte, and reads and finds them", async () => {
      const { directory, groups } = db.store;
      const created = await directory.createUser('u-grace', grace());
      await directory.createUser('u-alan', alan);
      await groups.createGroup(
        'g1',
        {
          displayName: 'Compilers',
          externalId: null,
          members: [
            { value: 'u-grace', display: 'Grace Brewster Hopperton' },
            { value: 'u-alan', display: null },
          ],
        },
        actor,
      );
      // A rename writes everything again, sealed again.
      now += 1000;
      await directory.replaceUser('u-grace', grace({ active: false }));
      await groups.replaceGroup(
        'g1',
        {
          displayName: 'Compilers',
          externalId: null,
          members: [
            { value: 'u-grace', display: 'G. B. Hopperton' },
            { value: 'u-alan', display: null },
          ],
        },
        actor,
      );

      expectNoSecret(await db.stored());
      expectNoSecret(await db.columns());
      // The search proves it can find what it looks for: the group's name is not personal data and is kept as sent.
      expect(await db.stored()).toContain('Compilers');

      expect(await directory.getUser('u-grace')).toEqual({ ...created, active: false, version: 2, updatedAt: new Date(now) });
      expect((await directory.findByUserName('GRACE.HOPPER@navy.EXAMPLE'))?.id).toBe('u-grace');
      expect((await directory.findByExternalId('HR-190612')).map((u) => u.id)).toEqual(['u-grace']);
      // externalId is compared exactly, as before.
      expect(await directory.findByExternalId('hr-190612')).toEqual([]);
      // Created at the same moment: in id order.
      expect((await directory.listUsers({ offset: 0, limit: 10 })).items.map((u) => u.userName)).toEqual([
        'alan@example.com',
        'Grace.Hopper@Navy.example',
      ]);
      expect((await groups.getGroup('g1'))?.members).toEqual([
        { value: 'u-alan', display: null },
        { value: 'u-grace', display: 'G. B. Hopperton' },
      ]);
      // userName stays unique, ignoring case, through its blind index.
      await expect(directory.createUser('u-twin', { ...alan, userName: 'grace.hopper@navy.EXAMPLE' })).rejects.toBeInstanceOf(
        DirectoryConflictError,
      );
    });

    for (const key of ['email:amazing.grace@home.example', 'ext:HR-190612', 'user:grace.hopper@navy.example']) {
      it(`eraseSubject by ${key.split(':')[0]}: destroys the key, the row and the memberships; a restored copy no longer opens`, async () => {
        const { directory, groups } = db.store;
        await directory.createUser('u-grace', grace());
        await directory.createUser('u-alan', alan);
        await groups.createGroup(
          'g1',
          {
            displayName: 'Compilers',
            externalId: null,
            members: [
              { value: 'u-grace', display: 'Grace Brewster Hopperton' },
              { value: 'u-alan', display: 'Alan' },
            ],
          },
          actor,
        );
        // A backup taken before the erasure: the sealed rows as they were.
        const backup = {
          user: await db.raw.selectFrom('directory_users').selectAll().where('id', '=', 'u-grace').executeTakeFirstOrThrow(),
          member: await db.raw.selectFrom('directory_group_members').selectAll().where('user_id', '=', 'u-grace').executeTakeFirstOrThrow(),
        };
        const sealedName = backup.user.user_name as string;
        expect(sealedName.startsWith('pd1:')).toBe(true);

        expect(await directory.eraseSubject([key, 'email:nobody@example.com'])).toEqual({ users: 1 });

        expect(await directory.getUser('u-grace')).toBeNull();
        expect(await directory.findByUserName('grace.hopper@navy.example')).toBeNull();
        expect(await directory.findByExternalId('HR-190612')).toEqual([]);
        const group = await groups.getGroup('g1');
        expect(group?.members).toEqual([{ value: 'u-alan', display: 'Alan' }]);
        expect(group?.version).toBe(2);
        expect(await directory.getUser('u-alan')).toMatchObject({ userName: 'alan@example.com', externalId: 'E-ALAN' });
        for (const table of ['directory_users', 'directory_user_keys', 'directory_group_members']) {
          const column = table === 'directory_users' ? 'id' : 'user_id';
          expect(await db.raw.selectFrom(table).selectAll().where(column, '=', 'u-grace').execute(), table).toEqual([]);
        }
        const keys = db.raw.withSchema(db.keyringSchema).selectFrom('data_keys');
        expect(await keys.selectAll().where('owner_id', '=', 'u-grace').execute()).toEqual([]);
        expect(await keys.selectAll().where('owner_id', '=', 'u-alan').execute()).toHaveLength(1);
        expect(await directory.eraseSubject([key])).toEqual({ users: 0 });

        // The backup restored: the rows are back, their personal data is not.
        await db.raw.insertInto('directory_users').values(backup.user).execute();
        await db.raw.insertInto('directory_group_members').values(backup.member).execute();
        expect(await directory.getUser('u-grace')).toBeNull();
        expect((await groups.getGroup('g1'))?.members).toEqual([
          { value: 'u-alan', display: 'Alan' },
          { value: 'u-grace', display: null },
        ]);
        const restored = await db.raw
          .selectFrom('directory_users')
          .select('user_name')
          .where('id', '=', 'u-grace')
          .executeTakeFirstOrThrow();
        expect(restored.user_name).toBe(sealedName);
        expectNoSecret(await db.stored());
      });
    }

    it("erases every entry of a person, and a SCIM DELETE destroys the entry's key too", async () => {
      const { directory } = db.store;
      // Two entries share the HRIS id (externalId is not unique in SCIM): one erasure takes both.
      await directory.createUser('u-grace', grace());
      await directory.createUser(
        'u-grace-2',
        grace({ userName: 'ghopper@other.example', attributes: { userName: 'ghopper@other.example' } }),
      );
      await directory.createUser('u-alan', alan);
      expect(await directory.eraseSubject(['ext:HR-190612'])).toEqual({ users: 2 });
      expect((await directory.listUsers({ offset: 0, limit: 10 })).items.map((u) => u.id)).toEqual(['u-alan']);

      const keys = () => db.raw.withSchema(db.keyringSchema).selectFrom('data_keys').select('owner_id').orderBy('owner_id').execute();
      expect(await keys()).toEqual([{ owner_id: 'u-alan' }]);
      expect(await directory.deleteUser('u-alan')).toBe(true);
      expect(await keys()).toEqual([]);
    });

    it('seals rows written before migration 0017 at start, and finds and erases them afterwards', async () => {
      const { directory, groups } = db.store;
      await groups.createGroup('g1', { displayName: 'Compilers', externalId: null, members: [] }, actor);
      const before = grace();
      // What the store wrote before it sealed anything (as bench/scenarios/intake.ts still seeds).
      await db.raw
        .insertInto('directory_users')
        .values({
          id: 'u-grace',
          user_name: before.userName,
          user_name_lower: before.userName.toLowerCase(),
          external_id: before.externalId,
          active: 1,
          manager_id: before.managerId,
          attributes: JSON.stringify(before.attributes),
          version: 3,
          created_at: now,
          updated_at: now,
        })
        .execute();
      await db.raw
        .insertInto('directory_group_members')
        .values({ group_id: 'g1', user_id: 'u-grace', display: 'Grace Brewster Hopperton' })
        .execute();
      expect((await db.columns()).toLowerCase()).toContain('grace.hopper');

      // More than one batch of the pass (500 users).
      const others = Array.from({ length: 620 }, (_, i) => ({
        id: `u-${String(i).padStart(4, '0')}`,
        user_name: `user${i}@example.com`,
        user_name_lower: `user${i}@example.com`,
        external_id: null,
        active: 1,
        manager_id: null,
        attributes: JSON.stringify({ emails: [{ value: `user${i}@example.com` }] }),
        version: 1,
        created_at: now,
        updated_at: now,
      }));
      for (let i = 0; i < others.length; i += 100)
        await db.raw
          .insertInto('directory_users')
          .values(others.slice(i, i + 100))
          .execute();

      // Replicas starting together (PostgreSQL): each batch is sealed once, and each waits for what the others hold.
      await Promise.all((await db.replicas(3)).map((replica) => replica.migrate()));

      expect(await db.raw.selectFrom('directory_users').select('id').where('sealed', '=', 0).execute()).toEqual([]);
      const keyCount = await db.raw
        .withSchema(db.keyringSchema)
        .selectFrom('data_keys')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(keyCount.n)).toBe(others.length + 1);
      expect((await directory.findByUserName('USER619@example.com'))?.id).toBe('u-0619');
      expect(await directory.eraseSubject(['email:user0@example.com'])).toEqual({ users: 1 });
      expectNoSecret(await db.columns());
      expect(await directory.getUser('u-grace')).toMatchObject({
        userName: before.userName,
        externalId: 'HR-190612',
        managerId: 'HR-MGR-77',
        attributes: before.attributes,
        version: 3,
      });
      expect((await directory.findByUserName('grace.HOPPER@navy.example'))?.id).toBe('u-grace');
      expect((await directory.findByExternalId('HR-190612')).map((u) => u.id)).toEqual(['u-grace']);
      expect((await groups.getGroup('g1'))?.members).toEqual([{ value: 'u-grace', display: 'Grace Brewster Hopperton' }]);
      // A second start finds nothing left to seal, and changes nothing.
      const sealed = await db.columns();
      await db.store.migrate();
      expect(await db.columns()).toBe(sealed);

      expect(await directory.eraseSubject(['email:amazing.grace@home.example'])).toEqual({ users: 1 });
      expect(await directory.getUser('u-grace')).toBeNull();
    });
  });
}
