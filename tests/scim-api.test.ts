/**
 * The SCIM 2.0 service provider at /scim/v2, endpoint by endpoint, against a whole daemon
 * (fake provider, engine off so terminations stay where intake put them).
 */
import SCIMMY from 'scimmy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseFilter, schemaResolver } from '../src/intake/scim/filter.ts';
import { ScimUserService, TooManyToFilterError } from '../src/intake/scim/user-service.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import {
  ENTERPRISE,
  PATCH_OP,
  SCIM_JSON,
  SCIM_TOKENS,
  USER_SCHEMA,
  expectScimError,
  startScimDaemon,
  type ScimTestDaemon,
} from './helpers/scim-daemon.ts';
import { pgError, sqliteFull } from './helpers/store-faults.ts';

let d: ScimTestDaemon;
let counter = 0;

beforeAll(async () => {
  d = await startScimDaemon();
});
afterAll(async () => {
  await d?.stop();
});

function uniqueName(prefix = 'user'): string {
  counter += 1;
  return `${prefix}.${counter}.${Date.now().toString(36)}@example.com`;
}

async function createUser(overrides: Record<string, unknown> = {}): Promise<any> {
  const userName = (overrides.userName as string | undefined) ?? uniqueName();
  const response = await d.scim('POST', '/Users', {
    body: {
      schemas: [USER_SCHEMA, ENTERPRISE],
      userName,
      externalId: `ext-${userName}`,
      active: true,
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      emails: [{ value: userName, type: 'work', primary: true }],
      ...overrides,
    },
  });
  expect(response.status, response.text).toBe(201);
  return response.body;
}

async function terminationsFor(externalId: string) {
  return (await d.terminations()).filter((t) => t.subject.externalId === externalId);
}

describe('discovery', () => {
  it('serves ServiceProviderConfig with what is really supported', async () => {
    const response = await d.scim('GET', '/ServiceProviderConfig');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain(SCIM_JSON);
    expect(response.body.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig']);
    expect(response.body.patch.supported).toBe(true);
    expect(response.body.filter).toEqual({ supported: true, maxResults: 200 });
    expect(response.body.bulk.supported).toBe(false);
    expect(response.body.sort.supported).toBe(false);
    // Issue #26: meta.version is an ETag on Users and Groups, and If-Match is honoured.
    expect(response.body.etag.supported).toBe(true);
    // One scheme, however many routers were constructed in this process.
    expect(response.body.authenticationSchemes).toHaveLength(1);
    expect(response.body.authenticationSchemes[0].type).toBe('oauthbearertoken');
  });

  it("answers the /serviceConfiguration probe of Microsoft's validator with the same document", async () => {
    const [probe, real] = await Promise.all([d.scim('GET', '/serviceConfiguration'), d.scim('GET', '/ServiceProviderConfig')]);
    expect(probe.status).toBe(200);
    expect(probe.body).toEqual(real.body);
  });

  it('lists ResourceTypes: User with the enterprise extension, and Group', async () => {
    const response = await d.scim('GET', '/ResourceTypes');
    expect(response.status).toBe(200);
    const byName = Object.fromEntries(response.body.Resources.map((r: any) => [r.name, r]));
    expect(byName.User.endpoint).toBe('/Users');
    expect(byName.User.schema).toBe(USER_SCHEMA);
    expect(byName.User.schemaExtensions).toEqual([{ schema: ENTERPRISE, required: false }]);
    expect(byName.Group.endpoint).toBe('/Groups');
    const one = await d.scim('GET', '/ResourceTypes/User');
    expect(one.status).toBe(200);
    expect(one.body.id).toBe('User');
  });

  it('lists Schemas, including the enterprise extension with manager and employeeNumber', async () => {
    const response = await d.scim('GET', '/Schemas');
    expect(response.status).toBe(200);
    const ids = response.body.Resources.map((s: any) => s.id);
    expect(ids).toEqual(expect.arrayContaining([USER_SCHEMA, ENTERPRISE, 'urn:ietf:params:scim:schemas:core:2.0:Group']));
    const enterprise = await d.scim('GET', `/Schemas/${ENTERPRISE}`);
    expect(enterprise.status).toBe(200);
    expect(enterprise.body.attributes.map((a: any) => a.name)).toEqual(expect.arrayContaining(['employeeNumber', 'manager']));
  });

  it('counts in itemsPerPage the resources a discovery list returns (RFC 7644 §3.4.2), not the page size', async () => {
    for (const path of ['/ResourceTypes', '/Schemas']) {
      const response = await d.scim('GET', path);
      expect(response.status).toBe(200);
      expect(response.body.Resources.length).toBeGreaterThan(1);
      expect(response.body).toMatchObject({ startIndex: 1, totalResults: response.body.Resources.length });
      expect(response.body.itemsPerPage, path).toBe(response.body.Resources.length);
    }
  });

  it('answers an unknown endpoint 404 with a SCIM error body', async () => {
    expectScimError(await d.scim('GET', '/Nope'), 404);
  });
});

describe('authentication', () => {
  it.each([
    ['no token', null],
    ['a wrong token', 'scim-not-the-right-token-0000000000'],
  ])('answers %s with 401 and a SCIM error body, on every endpoint', async (_label, token) => {
    for (const [method, path] of [
      ['GET', '/Users'],
      ['POST', '/Users'],
      ['GET', '/ServiceProviderConfig'],
      ['PATCH', '/Users/x'],
      ['DELETE', '/Users/x'],
      ['POST', '/Users/.search'],
    ] as const) {
      const response = await d.scim(method, path, { token, body: method === 'GET' || method === 'DELETE' ? undefined : { userName: 'x' } });
      expectScimError(response, 401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  });

  it('accepts every configured token (rotation), and names the token by position, never by value', async () => {
    for (const token of SCIM_TOKENS) expect((await d.scim('GET', '/Users', { token })).status).toBe(200);
    const user = await createUser();
    await d.scim('DELETE', `/Users/${user.id}`, { token: SCIM_TOKENS[1] });
    const [termination] = await terminationsFor(user.externalId);
    expect(termination!.createdBy).toBe('scim:token-1');
    const all = d.logs.join('\n');
    for (const token of SCIM_TOKENS) expect(all).not.toContain(token);
  });
});

describe('Users: create and read', () => {
  it('creates a user (201) and reads it back with id, meta and the enterprise extension', async () => {
    const manager = await createUser();
    const user = await createUser({ [ENTERPRISE]: { employeeNumber: '1042', manager: { value: manager.id } } });
    expect(user.id).toEqual(expect.any(String));
    expect(user.meta).toMatchObject({ resourceType: 'User', location: `/scim/v2/Users/${user.id}` });
    expect(user.meta.version).toMatch(/^W\/"\d+"$/);
    const read = await d.scim('GET', `/Users/${user.id}`);
    expect(read.status).toBe(200);
    expect(read.headers.get('content-type')).toContain(SCIM_JSON);
    expect(read.body).toMatchObject({ id: user.id, userName: user.userName, externalId: user.externalId, active: true });
    expect(read.body[ENTERPRISE]).toEqual({ employeeNumber: '1042', manager: { value: manager.id } });
    expect(read.body.schemas).toEqual([USER_SCHEMA, ENTERPRISE]);
  });

  it('never stores or returns a password', async () => {
    const user = await createUser({ password: 'Sup3r-Secret-Pass!' });
    expect(user.password).toBeUndefined();
    const stored = await d.daemon.store.directory.getUser(user.id);
    expect(JSON.stringify(stored)).not.toContain('Sup3r-Secret-Pass!');
  });

  it('accepts application/json as well as application/scim+json', async () => {
    const userName = uniqueName();
    const response = await d.scim('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName }, contentType: 'application/json' });
    expect(response.status).toBe(201);
    expect(response.headers.get('content-type')).toContain(SCIM_JSON);
  });

  it('answers 409 uniqueness for a duplicate userName, compared case-insensitively', async () => {
    const user = await createUser();
    const again = await d.scim('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: user.userName.toUpperCase() } });
    expectScimError(again, 409, 'uniqueness');
    expect(again.body.detail).not.toContain(user.userName);
  });

  it("answers 409 when a PUT renames a user onto another user's userName", async () => {
    const a = await createUser();
    const b = await createUser();
    const response = await d.scim('PUT', `/Users/${b.id}`, {
      body: { schemas: [USER_SCHEMA], userName: a.userName.toUpperCase(), active: true },
    });
    expectScimError(response, 409, 'uniqueness');
    // Refused before anything starts, even when the same PUT deactivates.
    const deactivating = await d.scim('PUT', `/Users/${b.id}`, { body: { schemas: [USER_SCHEMA], userName: a.userName, active: false } });
    expectScimError(deactivating, 409, 'uniqueness');
    expect(await terminationsFor(b.externalId)).toHaveLength(0);
  });

  it.each([
    ['a missing userName', { schemas: [USER_SCHEMA], displayName: 'x' }],
    ['a wrong type', { schemas: [USER_SCHEMA], userName: 'x@example.com', active: 'maybe' }],
    ['a foreign schema', { schemas: ['urn:example:Thing'], userName: 'x@example.com' }],
  ])('answers 400 with a SCIM error body for %s', async (_label, body) => {
    expectScimError(await d.scim('POST', '/Users', { body }), 400);
  });

  it('answers 400 invalidSyntax for a body that is not JSON', async () => {
    expectScimError(await d.scim('POST', '/Users', { raw: '{"userName": ' }), 400, 'invalidSyntax');
  });

  it('answers 404 with a SCIM error body for an unknown id, on GET, PUT, PATCH and DELETE', async () => {
    expectScimError(await d.scim('GET', '/Users/does-not-exist'), 404);
    expectScimError(await d.scim('PUT', '/Users/does-not-exist', { body: { schemas: [USER_SCHEMA], userName: uniqueName() } }), 404);
    expectScimError(
      await d.scim('PATCH', '/Users/does-not-exist', {
        body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] },
      }),
      404,
    );
    expectScimError(await d.scim('DELETE', '/Users/does-not-exist'), 404);
  });
});

describe('Users: filters, paging, attributes, search', () => {
  const tag = `flt${Date.now().toString(36)}`;
  const people: any[] = [];

  beforeAll(async () => {
    for (const [i, given] of ['Grace', 'Alan', 'Edsger', 'Barbara', 'Donald'].entries()) {
      people.push(
        await createUser({
          userName: `${given}.${tag}@Example.com`,
          externalId: `${tag}-${i}`,
          displayName: `${given} ${tag}`,
          title: i % 2 === 0 ? 'engineer' : 'manager',
          emails: [
            { value: `${given.toLowerCase()}.${tag}@example.com`, type: 'work', primary: true },
            { value: `${given.toLowerCase()}@home.example`, type: 'home' },
          ],
          [ENTERPRISE]: { employeeNumber: String(100 + i) },
        }),
      );
    }
  });

  const filter = async (expression: string, extra = '') => {
    const response = await d.scim('GET', `/Users?filter=${encodeURIComponent(expression)}${extra}`);
    expect(response.status, response.text).toBe(200);
    return response.body;
  };
  const names = (list: any) => list.Resources.map((r: any) => r.displayName?.split(' ')[0]).sort();

  it('matches userName eq case-insensitively (Okta and Entra look users up this way)', async () => {
    const list = await filter(`userName eq "GRACE.${tag.toUpperCase()}@EXAMPLE.COM"`);
    expect(list.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:ListResponse']);
    expect(list.totalResults).toBe(1);
    expect(list.Resources[0].id).toBe(people[0].id);
  });

  it('matches externalId eq exactly (caseExact)', async () => {
    expect((await filter(`externalId eq "${tag}-1"`)).totalResults).toBe(1);
    expect((await filter(`externalId eq "${tag.toUpperCase()}-1"`)).totalResults).toBe(0);
  });

  it('answers an empty list, not 404, when nothing matches', async () => {
    const list = await filter('userName eq "nobody@example.com"');
    expect(list).toMatchObject({ totalResults: 0, Resources: [] });
  });

  it.each([
    ['ne', `displayName co "${tag}" and title ne "engineer"`, ['Alan', 'Barbara']],
    ['co', `displayName co "${tag}" and userName co "ALD"`, ['Donald']],
    ['sw', `userName sw "ed" and displayName co "${tag}"`, ['Edsger']],
    ['ew', `emails.value ew "${tag}@example.com" and userName sw "b"`, ['Barbara']],
    ['pr', `displayName co "${tag}" and title pr`, ['Alan', 'Barbara', 'Donald', 'Edsger', 'Grace']],
    ['gt', `displayName co "${tag}" and ${ENTERPRISE}:employeeNumber gt "102"`, ['Barbara', 'Donald']],
    ['ge', `displayName co "${tag}" and ${ENTERPRISE}:employeeNumber ge "103"`, ['Barbara', 'Donald']],
    ['lt', `displayName co "${tag}" and externalId lt "${tag}-1"`, ['Grace']],
    ['le', `displayName co "${tag}" and externalId le "${tag}-1"`, ['Alan', 'Grace']],
    ['or', `externalId eq "${tag}-0" or externalId eq "${tag}-4"`, ['Donald', 'Grace']],
    ['not (a or b)', `displayName co "${tag}" and not (title eq "engineer" or userName sw "alan")`, ['Barbara']],
    [
      'not (a and b)',
      `displayName co "${tag}" and not (title eq "manager" and userName sw "alan")`,
      ['Barbara', 'Donald', 'Edsger', 'Grace'],
    ],
    ['value path', `emails[type eq "home" and value sw "grace"]`, ['Grace']],
    ['value path on one value', `emails[type eq "home" and value co "${tag}"]`, []],
    ['multi-valued value', `emails co "edsger@home"`, ['Edsger']],
    ['dates', `meta.created gt "2000-01-01T00:00:00Z" and displayName co "${tag}" and title eq "manager"`, ['Alan', 'Barbara']],
    ['active boolean', `active eq true and externalId eq "${tag}-2"`, ['Edsger']],
    ['active as Entra writes it', `active eq "True" and externalId eq "${tag}-2"`, ['Edsger']],
  ])('filters with %s', async (_label, expression, expected) => {
    expect(names(await filter(expression))).toEqual(expected);
  });

  it.each([
    ['bad syntax', 'userName eq'],
    ['unknown operator', 'userName xx "a"'],
    ['unknown attribute', 'shoeSize eq "42"'],
    ['ordering a boolean', 'active gt true'],
  ])('answers 400 invalidFilter for %s', async (_label, expression) => {
    expectScimError(await d.scim('GET', `/Users?filter=${encodeURIComponent(expression)}`), 400, 'invalidFilter');
  });

  it('pages with startIndex and count, with totalResults over every match', async () => {
    const expression = encodeURIComponent(`displayName co "${tag}"`);
    const seen: string[] = [];
    for (let startIndex = 1; startIndex <= 5; startIndex += 2) {
      const response = await d.scim('GET', `/Users?filter=${expression}&startIndex=${startIndex}&count=2`);
      expect(response.body).toMatchObject({ totalResults: 5, startIndex, itemsPerPage: startIndex === 5 ? 1 : 2 });
      seen.push(...response.body.Resources.map((r: any) => r.id));
    }
    expect(seen).toEqual(people.map((p) => p.id));
    const past = await d.scim('GET', `/Users?filter=${expression}&startIndex=9&count=2`);
    expect(past.body).toMatchObject({ totalResults: 5, Resources: [] });
    const countOnly = await d.scim('GET', `/Users?filter=${expression}&count=0`);
    expect(countOnly.body).toMatchObject({ totalResults: 5, Resources: [] });
  });

  it('pages an unfiltered list in the database, consistent across pages', async () => {
    const first = await d.scim('GET', '/Users?startIndex=1&count=3');
    const total = first.body.totalResults;
    expect(total).toBeGreaterThanOrEqual(5);
    const ids: string[] = [];
    for (let startIndex = 1; startIndex <= total; startIndex += 3) {
      const page = await d.scim('GET', `/Users?startIndex=${startIndex}&count=3`);
      expect(page.body.totalResults).toBe(total);
      ids.push(...page.body.Resources.map((r: any) => r.id));
    }
    expect(new Set(ids).size).toBe(total);
    // A middle page keeps every item it was given (SCIMMY's own list would drop some).
    const middle = await d.scim('GET', '/Users?startIndex=2&count=3');
    expect(middle.body.Resources.map((r: any) => r.id)).toEqual(ids.slice(1, 4));
  });

  it('returns only the requested attributes (id and schemas always), or all but the excluded ones', async () => {
    const only = await d.scim('GET', `/Users/${people[0].id}?attributes=userName`);
    expect(only.status).toBe(200);
    expect(only.body.userName).toBe(people[0].userName);
    expect(only.body.id).toBe(people[0].id);
    expect(only.body.emails).toBeUndefined();
    expect(only.body.displayName).toBeUndefined();
    const list = await filter(`externalId eq "${tag}-0"`, '&attributes=emails');
    expect(list.Resources[0].emails).toHaveLength(2);
    expect(list.Resources[0].userName).toBeUndefined();
    const without = await d.scim('GET', `/Users/${people[0].id}?excludedAttributes=emails,title`);
    expect(without.body.emails).toBeUndefined();
    expect(without.body.title).toBeUndefined();
    expect(without.body.userName).toBe(people[0].userName);
  });

  it('searches with POST /Users/.search and POST /.search', async () => {
    for (const path of ['/Users/.search', '/.search']) {
      const response = await d.scim('POST', path, {
        body: {
          schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
          filter: `displayName co "${tag}"`,
          attributes: ['userName', 'externalId'],
          startIndex: 2,
          count: 2,
        },
      });
      expect(response.status, response.text).toBe(200);
      expect(response.body.totalResults).toBe(5);
      expect(response.body.Resources.map((r: any) => r.id)).toEqual([people[1].id, people[2].id]);
      expect(response.body.Resources[0].emails).toBeUndefined();
    }
    expectScimError(await d.scim('POST', '/Users/.search', { body: { schemas: ['urn:wrong'], filter: 'userName pr' } }), 400);
  });

  it('lists Groups as empty, creates one (issue #26: no more 501), and answers 404 for an unknown id', async () => {
    const list = await d.scim('GET', '/Groups');
    expect(list.status).toBe(200);
    expect(list.body.totalResults).toBe(0);
    const created = await d.scim('POST', '/Groups', {
      body: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'g' },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ displayName: 'g', members: [] });
    expectScimError(await d.scim('GET', '/Groups/abc'), 404);
  });
});

describe('Users: deactivation starts a termination', () => {
  it('PATCH active=false (Okta value-object form) starts one termination with a Subject built from the directory', async () => {
    const manager = await createUser();
    const user = await createUser({ displayName: 'Ada L', [ENTERPRISE]: { manager: { value: manager.id } } });
    const body = { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] };
    const response = await d.scim('PATCH', `/Users/${user.id}`, { body });
    expect(response.status, response.text).toBe(200);
    expect(response.body.active).toBe(false);
    const [termination, ...others] = await terminationsFor(user.externalId);
    expect(others).toEqual([]);
    expect(termination).toMatchObject({ source: 'scim', playbook: 'default', state: 'scheduled', createdBy: 'scim:token-0' });
    expect(termination!.sourceEventId).toBe(`Users/${user.id}/deactivated@v1`);
    expect(termination!.subject).toEqual({
      externalId: user.externalId,
      userName: user.userName,
      emails: [user.userName],
      displayName: 'Ada L',
      manager: { externalId: manager.externalId, userName: manager.userName, email: manager.userName },
    });
    expect((await d.tasks(termination!.id)).map((t) => t.stepId).sort()).toEqual(['disable', 'revoke']);

    // The same delivery again, and again after the user is already inactive: nothing new.
    expect((await d.scim('PATCH', `/Users/${user.id}`, { body })).status).toBe(200);
    expect(await terminationsFor(user.externalId)).toHaveLength(1);
  });

  it('PATCH with Entra\'s string "False" on path active starts a termination', async () => {
    const user = await createUser();
    const response = await d.scim('PATCH', `/Users/${user.id}`, {
      body: { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] },
    });
    expect(response.status, response.text).toBe(200);
    expect(response.body.active).toBe(false);
    expect(await terminationsFor(user.externalId)).toHaveLength(1);
  });

  it('accepts "True"/"FALSE" in any case in value objects and resource bodies', async () => {
    const user = await createUser({ active: 'TRUE', emails: [{ value: uniqueName(), primary: 'True' }] });
    expect(user.active).toBe(true);
    expect(user.emails[0].primary).toBe(true);
    const response = await d.scim('PATCH', `/Users/${user.id}`, {
      body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: 'FALSE' } }] },
    });
    expect(response.status, response.text).toBe(200);
    expect(await terminationsFor(user.externalId)).toHaveLength(1);
  });

  it('PUT with active false starts a termination; PUT without active changes nothing', async () => {
    const user = await createUser();
    const { id, meta: _meta, ...rest } = user;
    const omitted = { ...rest };
    delete omitted.active;
    expect((await d.scim('PUT', `/Users/${id}`, { body: { ...omitted, displayName: 'renamed' } })).body.active).toBe(true);
    expect(await terminationsFor(user.externalId)).toHaveLength(0);
    const response = await d.scim('PUT', `/Users/${id}`, { body: { ...rest, active: false } });
    expect(response.status, response.text).toBe(200);
    const terminations = await terminationsFor(user.externalId);
    expect(terminations).toHaveLength(1);
    expect(terminations[0]!.reason).toBe('SCIM PUT active=false');
  });

  it('DELETE of an active user starts a termination (204); of an inactive one, nothing new', async () => {
    const user = await createUser();
    const response = await d.scim('DELETE', `/Users/${user.id}`);
    expect(response.status).toBe(204);
    expect(response.text).toBe('');
    expect(await terminationsFor(user.externalId)).toHaveLength(1);
    expectScimError(await d.scim('GET', `/Users/${user.id}`), 404);

    const inactive = await createUser();
    await d.scim('PATCH', `/Users/${inactive.id}`, {
      body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] },
    });
    expect((await d.scim('DELETE', `/Users/${inactive.id}`)).status).toBe(204);
    expect(await terminationsFor(inactive.externalId)).toHaveLength(1);
  });

  it('creating a user inactive starts nothing', async () => {
    const user = await createUser({ active: false });
    expect(user.active).toBe(false);
    expect(await terminationsFor(user.externalId)).toHaveLength(0);
  });

  it('PATCH active=true before the effective date cancels the scheduled termination (rehire)', async () => {
    const user = await createUser();
    const stored = (await d.daemon.store.directory.getUser(user.id))!;
    // A notice period: the termination is due in a week.
    const { termination } = await d.daemon.terminations.submit({
      source: 'scim',
      subject: { externalId: stored.externalId!, userName: stored.userName, emails: [stored.userName] },
      effectiveAt: new Date(Date.now() + 7 * 24 * 3600_000),
      actor: 'test',
    });
    await d.daemon.store.directory.replaceUser(user.id, { ...stored, active: false });
    const response = await d.scim('PATCH', `/Users/${user.id}`, {
      body: { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'True' }] },
    });
    expect(response.status, response.text).toBe(200);
    expect(response.body.active).toBe(true);
    expect((await d.daemon.store.getTermination(termination.id))!.state).toBe('cancelled');
    expect((await d.tasks(termination.id)).every((t) => t.state === 'cancelled')).toBe(true);
    const audit = await d.daemon.store.listAudit(0, 10_000);
    expect(audit.find((e) => e.terminationId === termination.id && e.action === 'termination.cancelled')?.actor).toBe('scim:token-0');
  });

  it('PATCH active=true while the termination runs does not undo it, and says so (header, log, audit)', async () => {
    const user = await createUser();
    await d.scim('PATCH', `/Users/${user.id}`, {
      body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] },
    });
    const [termination] = await terminationsFor(user.externalId);
    // Claim its first task as a worker would: the termination is running.
    await d.daemon.store.claimDueTasks({ worker: 'test-worker', provider: 'fake', now: new Date(), leaseMs: 60_000, limit: 10 });
    expect((await d.daemon.store.getTermination(termination!.id))!.state).toBe('running');

    const response = await d.scim('PATCH', `/Users/${user.id}`, {
      body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: true }] },
    });
    expect(response.status).toBe(200);
    expect(response.body.active).toBe(true);
    expect(response.headers.get('warning')).toContain(`termination ${termination!.id} is running and was not undone`);
    expect((await d.daemon.store.getTermination(termination!.id))!.state).toBe('running');
    const audit = await d.daemon.store.listAudit(0, 10_000);
    expect(audit.some((e) => e.terminationId === termination!.id && e.action === 'scim.reactivation_not_undone')).toBe(true);
    expect(d.logs.some((line) => line.includes('did not undo a termination'))).toBe(true);
  });

  it('a retry after a failed directory write finds the termination it already created (termination first)', async () => {
    const user = await createUser();
    const directory = d.daemon.store.directory;
    const original = directory.replaceUser;
    directory.replaceUser = async () => {
      throw sqliteFull();
    };
    const body = { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] };
    try {
      // A store failure: 503 with Retry-After, so the client retries.
      expectScimError(await d.scim('PATCH', `/Users/${user.id}`, { body }), 503);
    } finally {
      directory.replaceUser = original;
    }
    const first = await terminationsFor(user.externalId);
    expect(first).toHaveLength(1);
    // The termination even finished before the client retried: the stable source event id still dedupes.
    await d.daemon.store.cancelTermination(first[0]!.id, 'test', 'finished meanwhile');
    expect((await d.scim('PATCH', `/Users/${user.id}`, { body })).status).toBe(200);
    expect(await terminationsFor(user.externalId)).toHaveLength(1);
    expect((await d.daemon.store.directory.getUser(user.id))!.active).toBe(false);
  });
});

describe('limits and failures', () => {
  it('answers 413 with a SCIM error body over the configured body limit', async () => {
    const response = await d.scim('POST', '/Users', {
      body: { schemas: [USER_SCHEMA], userName: uniqueName(), displayName: 'x'.repeat(20_000) },
    });
    expectScimError(response, 413);
  });

  it('answers 503 (never 404 or 500) when the store fails (reads, writes, lists, deletes)', async () => {
    const user = await createUser();
    const directory = d.daemon.store.directory;
    const saved = {
      getUser: directory.getUser,
      listUsers: directory.listUsers,
      findByUserName: directory.findByUserName,
      createUser: directory.createUser,
    };
    const fail = async () => {
      throw pgError('08001', 'connection refused');
    };
    directory.getUser = fail;
    directory.listUsers = fail;
    directory.findByUserName = fail;
    directory.createUser = fail;
    try {
      for (const response of [
        await d.scim('GET', `/Users/${user.id}`),
        await d.scim('GET', '/Users'),
        await d.scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${user.userName}"`)}`),
        await d.scim('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName: uniqueName() } }),
        await d.scim('PATCH', `/Users/${user.id}`, {
          body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] },
        }),
        await d.scim('PUT', `/Users/${user.id}`, { body: { schemas: [USER_SCHEMA], userName: user.userName, active: false } }),
        await d.scim('DELETE', `/Users/${user.id}`),
      ]) {
        expectScimError(response, 503);
        expect(response.body.status).toBe('503');
        expect(response.headers.get('retry-after')).toBe('5');
        expect(response.body.detail).not.toContain('connection refused');
      }
    } finally {
      Object.assign(directory, saved);
    }
    expect(await terminationsFor(user.externalId)).toHaveLength(0);
    expect(d.logs.some((line) => line.includes('connection refused'))).toBe(true);
  });
});

describe('bounded in-memory filtering', () => {
  it('refuses (400 tooMany) a filter no index narrows over more users than it may scan', async () => {
    await createUser();
    await createUser();
    const users = new ScimUserService({ store: d.daemon.store, terminations: d.daemon.terminations, logger: silentLogger(), maxScan: 1 });
    const resolve = schemaResolver(SCIMMY.Schemas.User.definition);
    await expect(users.list(parseFilter('title pr', resolve), { startIndex: 1, count: 10 }, '/Groups')).rejects.toBeInstanceOf(
      TooManyToFilterError,
    );
    // An indexed lookup is not a scan: it still answers.
    const one = await users.list(parseFilter('userName eq "nobody@example.com"', resolve), { startIndex: 1, count: 10 }, '/Groups');
    expect(one).toEqual({ resources: [], total: 0 });
  });
});

describe('two daemons in one process', () => {
  it('each serves its own directory (SCIMMY global state routed through the request context)', async () => {
    const other = await startScimDaemon();
    try {
      const userName = uniqueName('twin');
      const here = await createUser({ userName });
      const there = await other.scim('POST', '/Users', { body: { schemas: [USER_SCHEMA], userName, externalId: 'there' } });
      expect(there.status).toBe(201);
      expect(there.body.id).not.toBe(here.id);
      expect((await other.scim('GET', `/Users/${here.id}`)).status).toBe(404);
      expect((await d.scim('GET', `/Users/${there.body.id}`)).status).toBe(404);
      expect((await other.scim('GET', '/ServiceProviderConfig')).body.authenticationSchemes).toHaveLength(1);
    } finally {
      await other.stop();
    }
  });
});
