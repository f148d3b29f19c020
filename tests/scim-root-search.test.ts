/**
 * `POST /.search` at the SCIM root (RFC 7644 §3.4.3) searches Users and Groups: one list,
 * users first, paged across both; the filter read for each type; attribute lists honoured
 * per type; what neither schema knows refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USER_SCHEMA, expectScimError, startScimDaemon, type ScimResponse, type ScimTestDaemon } from './helpers/scim-daemon.ts';

const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';

let d: ScimTestDaemon;
let ada: any;
let bob: any;
let ops: any;
let dev: any;
const tag = `rs${Date.now().toString(36)}`;

function ok(response: ScimResponse, status = 200): any {
  expect(response.status, response.text).toBe(status);
  return response.body;
}

const search = async (body: Record<string, unknown>) => d.scim('POST', '/.search', { body: { schemas: [SEARCH], ...body } });
const ids = (list: any) => list.Resources.map((r: any) => r.id);

beforeAll(async () => {
  d = await startScimDaemon();
  const user = async (name: string, label = `${name} ${tag}`) =>
    ok(
      await d.scim('POST', '/Users', {
        body: { schemas: [USER_SCHEMA], userName: `${name}@example.com`, displayName: label, active: true },
      }),
      201,
    );
  ada = await user('ada');
  bob = await user('bob');
  const group = async (name: string, members: string[]) =>
    ok(
      await d.scim('POST', '/Groups', {
        body: { schemas: [GROUP_SCHEMA], displayName: `${name} ${tag}`, members: members.map((value) => ({ value })) },
      }),
      201,
    );
  ops = await group('ops', [ada.id]);
  dev = await group('dev', [ada.id, bob.id]);
  // Neither matches the tag: a search without a filter finds them, a filtered one does not.
  await user('carl', 'carl');
});
afterAll(async () => {
  await d?.stop();
});

describe('POST /.search', () => {
  it('finds users and groups with one filter, users first, each as its own resource type', async () => {
    const found = ok(await search({ filter: `displayName co "${tag}"` }));
    expect(found).toMatchObject({ totalResults: 4, startIndex: 1, itemsPerPage: 4 });
    expect(ids(found)).toEqual([ada.id, bob.id, ops.id, dev.id]);
    expect(found.Resources.map((r: any) => [r.schemas[0], r.meta.resourceType])).toEqual([
      [USER_SCHEMA, 'User'],
      [USER_SCHEMA, 'User'],
      [GROUP_SCHEMA, 'Group'],
      [GROUP_SCHEMA, 'Group'],
    ]);
    expect(found.Resources[3].members.map((m: any) => m.value).sort()).toEqual([ada.id, bob.id].sort());
    expect(found.Resources[0].groups.map((g: any) => g.value)).toEqual([ops.id, dev.id]);
    expect(ok(await search({})).totalResults).toBe(5);
  });

  it('reads an attribute only one type has as one the other type never has', async () => {
    const either = ok(await search({ filter: `userName eq "${bob.userName}" or displayName eq "ops ${tag}"` }));
    expect(ids(either)).toEqual([bob.id, ops.id]);
    const groupsOfAda = ok(await search({ filter: `members[value eq "${ada.id}"]` }));
    expect(ids(groupsOfAda)).toEqual([ops.id, dev.id]);
    const usersOnly = ok(await search({ filter: `displayName co "${tag}" and not (members pr)` }));
    expect(ids(usersOnly)).toEqual([ada.id, bob.id]);
    const byType = ok(await search({ filter: `meta.resourceType eq "Group" and displayName co "${tag}"` }));
    expect(ids(byType)).toEqual([ops.id, dev.id]);
  });

  it('pages across the end of the users into the groups', async () => {
    const filter = `displayName co "${tag}"`;
    const across = ok(await search({ filter, startIndex: 2, count: 2 }));
    expect({ ids: ids(across), total: across.totalResults, per: across.itemsPerPage }).toEqual({
      ids: [bob.id, ops.id],
      total: 4,
      per: 2,
    });
    expect(ids(ok(await search({ filter, startIndex: 4, count: 5 })))).toEqual([dev.id]);
    expect(ids(ok(await search({ filter, startIndex: 9 })))).toEqual([]);
    const counted = ok(await search({ filter, count: 0 }));
    expect({ total: counted.totalResults, per: counted.itemsPerPage, resources: counted.Resources.length }).toEqual({
      total: 4,
      per: 0,
      resources: 0,
    });
  });

  it('honours attributes and excludedAttributes for each type by the names it knows', async () => {
    const filter = `displayName co "${tag}"`;
    const names = ok(await search({ filter, attributes: ['displayName'] }));
    for (const resource of names.Resources) {
      expect(Object.keys(resource).filter((key) => !['id', 'schemas', 'meta'].includes(key))).toEqual(['displayName']);
    }
    const members = ok(await search({ filter, attributes: ['members'] }));
    expect(members.Resources[0].displayName).toBeUndefined();
    expect(members.Resources[0].userName).toBeUndefined();
    expect(members.Resources[2].members).toHaveLength(1);
    expect(members.Resources[2].displayName).toBeUndefined();
    const lean = ok(await search({ filter, excludedAttributes: ['members', 'groups'] }));
    expect(lean.Resources[0].groups).toBeUndefined();
    expect(lean.Resources[0].userName).toBe(ada.userName);
    expect(lean.Resources[3].members).toBeUndefined();
    expect(lean.Resources[3].displayName).toBe(`dev ${tag}`);
  });

  it('refuses what neither type knows, a body that is no SearchRequest, and paging out of bounds', async () => {
    expectScimError(await search({ filter: 'nickname eq "x" or colour eq "red"' }), 400, 'invalidFilter');
    expectScimError(await search({ attributes: ['colour'] }), 400, 'invalidValue');
    expectScimError(await d.scim('POST', '/.search', { body: { schemas: ['urn:wrong'], filter: 'userName pr' } }), 400);
    expectScimError(await d.scim('POST', '/.search', { body: ['not', 'an', 'object'] }), 400, 'invalidSyntax');
    expectScimError(await search({ startIndex: 1e23 }), 400, 'invalidValue');
  });
});
