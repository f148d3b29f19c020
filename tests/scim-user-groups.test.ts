/**
 * A user's read-only `groups` attribute (RFC 7643 §4.1.2), derived from group memberships:
 * on every answer that carries the user (GET, lists, POST/PUT/PATCH answers, the
 * deactivation PATCH), filterable, and never written by a User request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATCH_OP, USER_SCHEMA, startScimDaemon, type ScimResponse, type ScimTestDaemon } from './helpers/scim-daemon.ts';

const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';

let d: ScimTestDaemon;
let counter = 0;

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

async function user(): Promise<any> {
  const userName = `member.${++counter}@example.com`;
  return ok(await d.scim('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName, active: true } }), 201);
}

async function group(displayName: string, members: string[]): Promise<any> {
  const body = { schemas: [GROUP_SCHEMA], displayName, members: members.map((value) => ({ value })) };
  return ok(await d.scim('POST', '/Groups', { body }), 201);
}

const entry = (g: any) => ({ value: g.id, $ref: `/scim/v2/Groups/${g.id}`, display: g.displayName, type: 'direct' });

describe("a user's groups", () => {
  it('are listed on GET, in lists and in .search answers, in group creation order, and follow membership changes', async () => {
    const ada = await user();
    const bob = await user();
    expect(ada.groups).toBeUndefined();
    const sales = await group('Sales', [ada.id, bob.id]);
    const eng = await group('Engineering', [ada.id]);

    expect(ok(await d.scim('GET', `/Users/${ada.id}`)).groups).toEqual([entry(sales), entry(eng)]);
    expect(ok(await d.scim('GET', `/Users/${bob.id}`)).groups).toEqual([entry(sales)]);
    const listed = ok(await d.scim('GET', '/Users?count=200'));
    const byId = new Map(listed.Resources.map((r: any) => [r.id, r.groups]));
    expect(byId.get(ada.id)).toEqual([entry(sales), entry(eng)]);
    expect(byId.get(bob.id)).toEqual([entry(sales)]);
    const searched = ok(
      await d.scim('POST', '/Users/.search', {
        body: { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: `userName eq "${bob.userName}"` },
      }),
    );
    expect(searched.Resources[0].groups).toEqual([entry(sales)]);

    // Removed from a group (by the group's PATCH), then the group renamed and another deleted.
    ok(
      await d.scim('PATCH', `/Groups/${sales.id}`, {
        body: { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${ada.id}"]` }] },
      }),
    );
    ok(
      await d.scim('PATCH', `/Groups/${eng.id}`, {
        body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: 'Platform' }] },
      }),
    );
    expect(ok(await d.scim('GET', `/Users/${ada.id}`)).groups).toEqual([{ ...entry(eng), display: 'Platform' }]);
    ok(await d.scim('DELETE', `/Groups/${eng.id}`), 204);
    expect(ok(await d.scim('GET', `/Users/${ada.id}`)).groups).toBeUndefined();
  });

  it('are on the answers to PUT, to PATCH through SCIMMY and to the deactivation PATCH, and a body cannot change them', async () => {
    const cy = await user();
    const ops = await group('Ops', [cy.id]);
    const other = await group('Other', []);

    // A PUT that lists other groups: `groups` is read-only, the memberships stay as they are.
    const put = ok(
      await d.scim('PUT', `/Users/${cy.id}`, {
        body: { schemas: [USER_SCHEMA], userName: cy.userName, active: true, groups: [{ value: other.id }] },
      }),
    );
    expect(put.groups).toEqual([entry(ops)]);
    expect(ok(await d.scim('GET', `/Groups/${other.id}`)).members).toEqual([]);

    // A PATCH SCIMMY serves (several operations) on a user that is a member.
    const patched = ok(
      await d.scim('PATCH', `/Users/${cy.id}`, {
        body: {
          schemas: [PATCH_OP],
          Operations: [
            { op: 'replace', path: 'displayName', value: 'Cy' },
            { op: 'add', path: 'title', value: 'Operator' },
          ],
        },
      }),
    );
    expect(patched).toMatchObject({ displayName: 'Cy', title: 'Operator', groups: [entry(ops)] });

    // The deactivation PATCH (served without SCIMMY) answers the same groups.
    const deactivated = ok(
      await d.scim('PATCH', `/Users/${cy.id}`, {
        body: { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] },
      }),
    );
    expect(deactivated).toMatchObject({ active: false, groups: [entry(ops)] });
    expect(ok(await d.scim('GET', `/Users/${cy.id}?excludedAttributes=groups`)).groups).toBeUndefined();
    expect(ok(await d.scim('GET', `/Users/${cy.id}?attributes=groups`)).groups).toEqual([entry(ops)]);
  });

  it('can be filtered on, alone (a scan) or beside an indexed lookup', async () => {
    const dee = await user();
    const eve = await user();
    const audit = await group('Audit', [dee.id]);
    const ids = (list: any) => list.Resources.map((r: any) => r.id);

    const members = ok(await d.scim('GET', `/Users?filter=${encodeURIComponent(`groups[value eq "${audit.id}"]`)}`));
    expect({ total: members.totalResults, ids: ids(members) }).toEqual({ total: 1, ids: [dee.id] });
    const byName = ok(await d.scim('GET', `/Users?filter=${encodeURIComponent(`groups.display eq "audit"`)}`));
    expect(ids(byName)).toEqual([dee.id]);
    const notEve = ok(
      await d.scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${eve.userName}" and groups.value eq "${audit.id}"`)}`),
    );
    expect(notEve.totalResults).toBe(0);
    const inNone = ok(await d.scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${eve.userName}" and not (groups pr)`)}`));
    expect(ids(inNone)).toEqual([eve.id]);
  });
});
