/**
 * The SCIM directory through the daemon (issue 29): what an IdP pushes is answered back in
 * clear by GET and filters, while the store's files (SQLite: the database, its WAL and the
 * keyring's, read raw after a checkpoint) hold none of it; once the person is erased, SCIM
 * no longer finds them. tests/directory-sealed.test.ts covers PostgreSQL at the store.
 */
import { existsSync, readFileSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultKeyringPath } from '../src/store/sqlite.ts';
import { ENTERPRISE, USER_SCHEMA, startScimDaemon, type ScimResponse, type ScimTestDaemon } from './helpers/scim-daemon.ts';

const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const SECRETS = ['ada.lovelace', 'countess.ada', 'HR-181512', 'Byronette', 'Augusta'];

let d: ScimTestDaemon;

beforeAll(async () => {
  d = await startScimDaemon();
});
afterAll(async () => {
  await d?.stop();
});

function ok(response: ScimResponse, status = 200): any {
  expect(response.status, response.text).toBe(status);
  return response.body;
}

/** The store's files, byte by byte, once every page written so far is in them or in their WAL. */
async function storedBytes(): Promise<string> {
  await d.daemon.store.durable();
  if (!('sqlite' in d.config.store)) throw new Error('the SCIM test daemon runs on SQLite');
  const path = d.config.store.sqlite.path;
  const connection = new BetterSqlite3(path);
  try {
    connection.prepare('attach database ? as keyring').run(defaultKeyringPath(path));
    connection.pragma('main.wal_checkpoint(PASSIVE)');
    connection.pragma('keyring.wal_checkpoint(PASSIVE)');
  } finally {
    connection.close();
  }
  return [path, `${path}-wal`, defaultKeyringPath(path), `${defaultKeyringPath(path)}-wal`]
    .filter((file) => existsSync(file))
    .map((file) => readFileSync(file).toString('latin1'))
    .join('\n')
    .toLowerCase();
}

const filter = async (expression: string) => ok(await d.scim('GET', `/Users?filter=${encodeURIComponent(expression)}`));

it('answers GET and filters in clear from a directory whose files hold none of it, and forgets an erased person', async () => {
  const ada = ok(
    await d.scim('POST', '/Users', {
      body: {
        schemas: [USER_SCHEMA, ENTERPRISE],
        userName: 'Ada.Lovelace@Analytical.example',
        externalId: 'HR-181512',
        name: { givenName: 'Augusta', familyName: 'Byronette' },
        emails: [
          { value: 'ada.lovelace@analytical.example', primary: true, type: 'work' },
          { value: 'countess.ada@home.example', type: 'home' },
        ],
        active: true,
      },
    }),
    201,
  );
  const group = ok(
    await d.scim('POST', '/Groups', {
      body: { schemas: [GROUP_SCHEMA], displayName: 'Engines', members: [{ value: ada.id, display: 'Augusta Byronette' }] },
    }),
    201,
  );

  const bytes = await storedBytes();
  for (const secret of SECRETS) expect(bytes.includes(secret.toLowerCase()), `"${secret}" is stored in clear`).toBe(false);
  expect(bytes).toContain('engines');

  const got = ok(await d.scim('GET', `/Users/${ada.id}`));
  expect(got).toMatchObject({
    userName: 'Ada.Lovelace@Analytical.example',
    externalId: 'HR-181512',
    name: { givenName: 'Augusta', familyName: 'Byronette' },
    emails: [
      { value: 'ada.lovelace@analytical.example', primary: true, type: 'work' },
      { value: 'countess.ada@home.example', type: 'home' },
    ],
  });
  // The indexed lookups (blind indexes) and a filter evaluated on the opened rows.
  for (const expression of [
    'userName eq "ada.LOVELACE@analytical.example"',
    'externalId eq "HR-181512"',
    'emails.value co "countess"',
    'name.familyName sw "Byron"',
  ]) {
    const found = await filter(expression);
    expect(
      found.Resources.map((user: any) => user.id),
      expression,
    ).toEqual([ada.id]);
  }
  expect(ok(await d.scim('GET', `/Groups/${group.id}`)).members).toEqual([
    { value: ada.id, display: 'Augusta Byronette', type: 'User', $ref: `/scim/v2/Users/${ada.id}` },
  ]);

  expect(await d.daemon.store.directory.eraseSubject(['email:countess.ada@home.example'])).toEqual({ users: 1 });

  expect((await d.scim('GET', `/Users/${ada.id}`)).status).toBe(404);
  for (const expression of ['userName eq "ada.lovelace@analytical.example"', 'externalId eq "HR-181512"', 'emails.value co "countess"']) {
    expect((await filter(expression)).totalResults, expression).toBe(0);
  }
  expect(ok(await d.scim('GET', `/Groups/${group.id}`)).members ?? []).toEqual([]);
  const after = await storedBytes();
  for (const secret of SECRETS) expect(after.includes(secret.toLowerCase()), `"${secret}" is stored in clear`).toBe(false);
});
