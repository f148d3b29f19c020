/**
 * SCIM Groups as Entra ("Provision Microsoft Entra ID Groups") and Okta (Push Groups) use
 * them: each IdP's documented request sequence replayed against a whole daemon (fake
 * provider, engine off), every answer checked and every change read back. Then what the
 * sequences do not cover: If-Match, projections, paging, refusals and the audit.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ENTERPRISE,
  PATCH_OP,
  SCIM_JSON,
  USER_SCHEMA,
  expectScimError,
  startScimDaemon,
  type ScimResponse,
  type ScimTestDaemon,
} from './helpers/scim-daemon.ts';
import { sqliteBusy } from './helpers/store-faults.ts';

const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';

let d: ScimTestDaemon;
let counter = 0;

beforeAll(async () => {
  d = await startScimDaemon();
});
afterAll(async () => {
  await d?.stop();
});

const unique = (prefix: string) => `${prefix}.${++counter}.${Date.now().toString(36)}`;

function ok(response: ScimResponse, status = 200): any {
  expect(response.status, response.text).toBe(status);
  if (status !== 204) expect(response.headers.get('content-type')).toContain(SCIM_JSON);
  return response.body;
}

/** Entra's user create, from Microsoft's SCIM endpoint guide. */
async function entraUser(): Promise<any> {
  const userName = `${unique('entra')}@contoso.example`;
  return ok(
    await d.scim('POST', '/Users', {
      body: {
        schemas: [USER_SCHEMA, ENTERPRISE],
        externalId: unique('0a21f0f2'),
        userName,
        active: true,
        emails: [{ primary: true, type: 'work', value: userName }],
        meta: { resourceType: 'User' },
        name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
        roles: [],
      },
    }),
    201,
  );
}

/** Okta's user create, from Okta's SCIM 2.0 reference. */
async function oktaUser(): Promise<any> {
  const userName = `${unique('okta')}@example.com`;
  return ok(
    await d.scim('POST', '/Users', {
      body: {
        schemas: [USER_SCHEMA],
        userName,
        name: { givenName: 'Test', familyName: 'User' },
        emails: [{ primary: true, value: userName, type: 'work' }],
        displayName: 'Test User',
        locale: 'en-US',
        externalId: unique('00ujl29u0le5T6Aj10h7'),
        groups: [],
        password: '1mz050nq',
        active: true,
      },
    }),
    201,
  );
}

const memberIds = (group: any) => (group.members ?? []).map((m: any) => m.value).sort();

describe('Entra: the documented group sequence', () => {
  it('creates, finds, adds and removes members (value list and filter path), renames, deactivates and deletes without an error', async () => {
    const ada = await entraUser();
    const bob = await entraUser();
    const externalId = unique('8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159');
    const displayName = unique('displayName');

    // Create the group (Entra sends its own schema URN beside the core one, and empty members).
    const created = ok(
      await d.scim('POST', '/Groups', {
        body: {
          externalId,
          displayName,
          meta: { resourceType: 'Group' },
          members: [],
          schemas: ['http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/Group', GROUP_SCHEMA],
        },
      }),
      201,
    );
    expect(created).toMatchObject({
      schemas: [GROUP_SCHEMA],
      externalId,
      displayName,
      members: [],
      meta: { resourceType: 'Group', version: 'W/"1"' },
    });
    expect(created.meta.location).toBe(`/scim/v2/Groups/${created.id}`);
    const id = created.id as string;

    // Entra's matching query: by displayName, without members.
    const found = ok(
      await d.scim('GET', `/Groups?excludedAttributes=members&filter=${encodeURIComponent(`displayName eq "${displayName}"`)}`),
    );
    expect(found.totalResults).toBe(1);
    expect(found.Resources[0]).toMatchObject({ id, displayName });
    expect(found.Resources[0].members).toBeUndefined();

    // Add a member (lower-case op, a `name` Entra adds, `$ref: null`).
    ok(
      await d.scim('PATCH', `/Groups/${id}`, {
        body: {
          schemas: [PATCH_OP],
          Operations: [{ name: 'addMember', op: 'add', path: 'members', value: [{ $ref: null, value: ada.id }] }],
        },
      }),
    );
    ok(
      await d.scim('PATCH', `/Groups/${id}`, {
        body: { schemas: [PATCH_OP], Operations: [{ op: 'Add', path: 'members', value: [{ value: bob.id }] }] },
      }),
    );
    expect(memberIds(ok(await d.scim('GET', `/Groups/${id}`)))).toEqual([ada.id, bob.id].sort());

    // Entra's membership check: the group filtered by a member, without returning the members.
    const check = ok(
      await d.scim(
        'GET',
        `/Groups?excludedAttributes=members&filter=${encodeURIComponent(`id eq "${id}" and members[value eq "${ada.id}"]`)}`,
      ),
    );
    expect(check.totalResults).toBe(1);
    expect(check.Resources[0].members).toBeUndefined();
    // The same check with the bare multi-valued attribute (its `value` is meant, RFC 7644 §3.4.2.2).
    expect(
      ok(await d.scim('GET', `/Groups?excludedAttributes=members&filter=${encodeURIComponent(`id eq "${id}" and members eq "${bob.id}"`)}`))
        .totalResults,
    ).toBe(1);

    // Remove with a value list (only those go) and with a filter path.
    ok(
      await d.scim('PATCH', `/Groups/${id}`, {
        body: {
          schemas: [PATCH_OP],
          Operations: [{ name: 'removeMember', op: 'Remove', path: 'members', value: [{ $ref: null, value: ada.id }] }],
        },
      }),
    );
    expect(memberIds(ok(await d.scim('GET', `/Groups/${id}`)))).toEqual([bob.id]);
    ok(
      await d.scim('PATCH', `/Groups/${id}`, {
        body: { schemas: [PATCH_OP], Operations: [{ op: 'Remove', path: `members[value eq "${bob.id}"]` }] },
      }),
    );
    expect(memberIds(ok(await d.scim('GET', `/Groups/${id}`)))).toEqual([]);
    const gone = ok(await d.scim('GET', `/Groups?filter=${encodeURIComponent(`id eq "${id}" and members[value eq "${ada.id}"]`)}`));
    expect(gone.totalResults).toBe(0);

    // Rename: with a path, and without one.
    ok(
      await d.scim('PATCH', `/Groups/${id}`, {
        body: { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'displayName', value: `${displayName}-1` }] },
      }),
    );
    ok(
      await d.scim('PATCH', `/Groups/${id}`, {
        body: { schemas: [PATCH_OP], Operations: [{ op: 'Replace', value: { id, displayName: `${displayName}-2` } }] },
      }),
    );
    expect(ok(await d.scim('GET', `/Groups/${id}`)).displayName).toBe(`${displayName}-2`);

    // Deactivation still starts the termination.
    ok(
      await d.scim('PATCH', `/Users/${ada.id}`, {
        body: { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] },
      }),
    );
    expect((await d.terminations()).filter((t) => t.subject.userName === ada.userName)).toHaveLength(1);

    ok(await d.scim('DELETE', `/Groups/${id}`), 204);
    expectScimError(await d.scim('GET', `/Groups/${id}`), 404);
    ok(await d.scim('DELETE', `/Users/${ada.id}`), 204);
  });
});

describe('Okta: the documented Push Groups sequence', () => {
  it('creates with members, renames, adds, removes by filter path, replaces with PUT, and deletes', async () => {
    const ann = await oktaUser();
    const ben = await oktaUser();
    const cat = await oktaUser();
    const displayName = unique('Test SCIMv2');

    const created = ok(
      await d.scim('POST', '/Groups', {
        body: { schemas: [GROUP_SCHEMA], displayName, members: [{ value: ann.id, display: ann.userName }] },
      }),
      201,
    );
    const id = created.id as string;
    expect(created.members).toEqual([{ value: ann.id, display: ann.userName, type: 'User', $ref: `/scim/v2/Users/${ann.id}` }]);
    expect(ok(await d.scim('GET', `/Groups/${id}`))).toEqual(created);

    // Okta's rename: replace without a path, the id repeated in the value.
    const renamed = ok(
      await d.scim('PATCH', `/Groups/${id}`, {
        body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { id, displayName: `${displayName} renamed` } }] },
      }),
    );
    expect(renamed).toMatchObject({ displayName: `${displayName} renamed`, meta: { version: 'W/"2"' } });
    expect(memberIds(renamed)).toEqual([ann.id]);

    ok(
      await d.scim('PATCH', `/Groups/${id}`, {
        body: {
          schemas: [PATCH_OP],
          Operations: [
            {
              op: 'add',
              path: 'members',
              value: [
                { value: ben.id, display: ben.userName },
                { value: cat.id, display: cat.userName },
              ],
            },
          ],
        },
      }),
    );
    ok(
      await d.scim('PATCH', `/Groups/${id}`, {
        body: { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${ann.id}"]` }] },
      }),
    );
    expect(memberIds(ok(await d.scim('GET', `/Groups/${id}`)))).toEqual([ben.id, cat.id].sort());

    // PUT with the full member list: members not listed leave.
    const put = ok(
      await d.scim('PUT', `/Groups/${id}`, {
        body: {
          schemas: [GROUP_SCHEMA],
          id,
          displayName,
          members: [
            { value: cat.id, display: cat.userName },
            { value: ann.id, display: ann.userName },
          ],
        },
      }),
    );
    expect(memberIds(put)).toEqual([ann.id, cat.id].sort());

    // Okta's import: the groups page by page.
    const listed = ok(
      await d.scim('GET', `/Groups?filter=${encodeURIComponent(`displayName eq "${displayName}"`)}&startIndex=1&count=100`),
    );
    expect(listed.Resources.map((g: any) => g.id)).toEqual([id]);
    expect(memberIds(listed.Resources[0])).toEqual([ann.id, cat.id].sort());

    ok(
      await d.scim('PATCH', `/Users/${cat.id}`, {
        body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] },
      }),
    );
    expect((await d.terminations()).filter((t) => t.subject.userName === cat.userName)).toHaveLength(1);

    // Deleting a user takes it out of its groups, and the group's version moves.
    const before = ok(await d.scim('GET', `/Groups/${id}`));
    ok(await d.scim('DELETE', `/Users/${ann.id}`), 204);
    const after = ok(await d.scim('GET', `/Groups/${id}`));
    expect(memberIds(after)).toEqual([cat.id]);
    expect(after.meta.version).not.toBe(before.meta.version);

    ok(await d.scim('DELETE', `/Groups/${id}`), 204);
    expectScimError(await d.scim('DELETE', `/Groups/${id}`), 404);
  });
});

describe('Groups: beyond the sequences', () => {
  it('audits membership changes by id, with the token that made them', async () => {
    const user = await oktaUser();
    const group = ok(await d.scim('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: unique('audited') } }), 201);
    ok(
      await d.scim('PATCH', `/Groups/${group.id}`, {
        body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: user.id }] }] },
      }),
    );
    const entries = (await d.daemon.store.listAudit(0, 10_000)).filter((e) => (e.data as any).groupId === group.id);
    expect(entries.map((e) => [e.action, e.actor, e.data])).toEqual([
      ['scim.group.created', 'scim:token-0', { groupId: group.id, added: [] }],
      ['scim.group.members_changed', 'scim:token-0', { groupId: group.id, added: [user.id], removed: [] }],
    ]);
  });

  it('honours If-Match: 412 for another version, the write for the current one; answers ETag', async () => {
    const group = await d.scim('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: unique('etag') } });
    expect(group.status).toBe(201);
    expect(group.headers.get('etag')).toBe('W/"1"');
    const id = group.body.id;
    const rename = (name: string) => ({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: name }] });
    expectScimError(await d.scim('PATCH', `/Groups/${id}`, { headers: { 'if-match': 'W/"7"' }, body: rename('x') }), 412);
    expectScimError(
      await d.scim('PUT', `/Groups/${id}`, { headers: { 'if-match': '"7"' }, body: { schemas: [GROUP_SCHEMA], displayName: 'x' } }),
      412,
    );
    expectScimError(await d.scim('DELETE', `/Groups/${id}`, { headers: { 'if-match': 'W/"7"' } }), 412);
    const patched = await d.scim('PATCH', `/Groups/${id}`, { headers: { 'if-match': 'W/"1"' }, body: rename('y') });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.headers.get('etag')).toBe('W/"2"');
    expect(
      (await d.scim('PUT', `/Groups/${id}`, { headers: { 'if-match': '*' }, body: { schemas: [GROUP_SCHEMA], displayName: 'z' } })).status,
    ).toBe(200);
    expect((await d.scim('DELETE', `/Groups/${id}`, { headers: { 'if-match': 'W/"3"' } })).status).toBe(204);
  });

  it('honours If-Match on Users too: 412 and nothing written for another version', async () => {
    const user = await oktaUser();
    expect(user.meta.version).toBe('W/"1"');
    const deactivate = { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] };
    expectScimError(await d.scim('PATCH', `/Users/${user.id}`, { headers: { 'if-match': 'W/"2"' }, body: deactivate }), 412);
    expectScimError(
      await d.scim('PUT', `/Users/${user.id}`, {
        headers: { 'if-match': 'W/"2"' },
        body: { schemas: [USER_SCHEMA], userName: user.userName, active: false },
      }),
      412,
    );
    expectScimError(await d.scim('DELETE', `/Users/${user.id}`, { headers: { 'if-match': 'W/"2"' } }), 412);
    expect((await d.terminations()).filter((t) => t.subject.userName === user.userName)).toEqual([]);
    const patched = await d.scim('PATCH', `/Users/${user.id}`, { headers: { 'if-match': 'W/"1"' }, body: deactivate });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.meta.version).toBe('W/"2"');
    expect((await d.terminations()).filter((t) => t.subject.userName === user.userName)).toHaveLength(1);
  });

  it('pages, projects, and filters by externalId and members.value', async () => {
    const member = await oktaUser();
    const tag = unique('page');
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      ids.push(
        ok(
          await d.scim('POST', '/Groups', {
            body: {
              schemas: [GROUP_SCHEMA],
              displayName: `${tag}-${i}`,
              externalId: `${tag}-x${i}`,
              members: i === 1 ? [{ value: member.id }] : [],
            },
          }),
          201,
        ).id,
      );
    }
    const page = ok(await d.scim('GET', `/Groups?filter=${encodeURIComponent(`displayName sw "${tag}"`)}&startIndex=2&count=1`));
    expect({ total: page.totalResults, start: page.startIndex, per: page.itemsPerPage, ids: page.Resources.map((g: any) => g.id) }).toEqual(
      { total: 3, start: 2, per: 1, ids: [ids[1]] },
    );
    expect(
      ok(await d.scim('GET', `/Groups?filter=${encodeURIComponent(`externalId eq "${tag}-x2"`)}`)).Resources.map((g: any) => g.id),
    ).toEqual([ids[2]]);
    expect(
      ok(await d.scim('GET', `/Groups?filter=${encodeURIComponent(`members.value eq "${member.id}"`)}`)).Resources.map((g: any) => g.id),
    ).toEqual([ids[1]]);
    const projected = ok(await d.scim('GET', `/Groups/${ids[1]}?attributes=displayName`));
    expect(Object.keys(projected).sort()).toEqual(['displayName', 'id', 'schemas']);
    const searched = ok(
      await d.scim('POST', '/Groups/.search', {
        body: {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
          filter: `externalId eq "${tag}-x0"`,
          excludedAttributes: ['members'],
        },
      }),
    );
    expect(searched.Resources.map((g: any) => [g.id, g.members])).toEqual([[ids[0], undefined]]);
  });

  it('refuses what it cannot keep with a 400 that says what to do, and changes nothing', async () => {
    const group = ok(await d.scim('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: unique('refusals') } }), 201);
    expectScimError(
      await d.scim('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: 'g', members: [{ value: 'no-such-user' }] } }),
      400,
      'invalidValue',
    );
    expectScimError(await d.scim('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA] } }), 400, 'invalidValue');
    expectScimError(
      await d.scim('POST', '/Groups', {
        body: { schemas: [GROUP_SCHEMA], displayName: 'g', members: [{ value: group.id, type: 'Group' }] },
      }),
      400,
      'invalidValue',
    );
    const patch = (operations: unknown[]) =>
      d.scim('PATCH', `/Groups/${group.id}`, { body: { schemas: [PATCH_OP], Operations: operations } });
    expectScimError(await patch([{ op: 'add', path: 'members', value: [{ value: 'no-such-user' }] }]), 400, 'invalidValue');
    expectScimError(await patch([{ op: 'remove', path: 'displayName' }]), 400, 'mutability');
    expectScimError(await patch([{ op: 'remove' }]), 400, 'noTarget');
    expectScimError(await patch([{ op: 'move', path: 'members' }]), 400, 'invalidSyntax');
    expectScimError(await patch([{ op: 'add', path: 'owner', value: 'x' }]), 400, 'invalidPath');
    expectScimError(await patch([{ op: 'remove', path: 'members[value eq ' }]), 400, 'invalidPath');
    expectScimError(await d.scim('PATCH', `/Groups/${group.id}`, { body: { Operations: [] } }), 400, 'invalidSyntax');
    expectScimError(
      await d.scim('PATCH', '/Groups/no-such-group', {
        body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'displayName', value: 'x' }] },
      }),
      404,
    );
    expect(ok(await d.scim('GET', `/Groups/${group.id}`)).meta.version).toBe('W/"1"');
  });

  it('a store failure answers 503 with Retry-After, never a 404 an IdP would act on', async () => {
    const group = ok(await d.scim('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: unique('outage') } }), 201);
    const spy = vi.spyOn(d.daemon.store.groups, 'getGroup').mockRejectedValue(sqliteBusy());
    try {
      for (const answer of [
        await d.scim('GET', `/Groups/${group.id}`),
        await d.scim('PATCH', `/Groups/${group.id}`, {
          body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: 'x' }] },
        }),
      ]) {
        expectScimError(answer, 503);
        expect(answer.headers.get('retry-after')).toBe('5');
        expect(answer.text).not.toContain('SQLITE_BUSY');
      }
    } finally {
      spy.mockRestore();
    }
    expect(ok(await d.scim('GET', `/Groups/${group.id}`)).displayName).toBe(group.displayName);
  });

  it('a bug in a store call answers 500, not an outage the IdP would wait out', async () => {
    const group = ok(await d.scim('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: unique('bug') } }), 201);
    const spy = vi
      .spyOn(d.daemon.store.groups, 'getGroup')
      .mockRejectedValue(new TypeError("Cannot read properties of undefined (reading 'secret-internal')"));
    try {
      const answer = await d.scim('GET', `/Groups/${group.id}`);
      expectScimError(answer, 500);
      expect(answer.headers.get('retry-after')).toBeNull();
      expect(answer.text).not.toContain('secret-internal');
    } finally {
      spy.mockRestore();
    }
  });

  it('answers 405 naming the methods a path takes', async () => {
    const answer = await d.scim('PATCH', '/Groups', {
      body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'displayName', value: 'x' }] },
    });
    expectScimError(answer, 405);
    expect(answer.headers.get('allow')).toBe('GET, POST');
  });

  it('two PATCHes adding different members at once both land', async () => {
    const users = await Promise.all([oktaUser(), oktaUser(), oktaUser(), oktaUser()]);
    const group = ok(await d.scim('POST', '/Groups', { body: { schemas: [GROUP_SCHEMA], displayName: unique('race') } }), 201);
    const answers = await Promise.all(
      users.map((user) =>
        d.scim('PATCH', `/Groups/${group.id}`, {
          body: { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: user.id }] }] },
        }),
      ),
    );
    for (const answer of answers) ok(answer);
    expect(memberIds(ok(await d.scim('GET', `/Groups/${group.id}`)))).toEqual(users.map((u) => u.id).sort());
  });
});
