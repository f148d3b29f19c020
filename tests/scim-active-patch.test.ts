/**
 * The PATCH that sets `active` is served without SCIMMY (src/intake/scim/active-patch.ts).
 * Which bodies take that path, and a differential check: the same changes sent in a form
 * only SCIMMY serves give the same answers, directory entries, terminations and audit.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { activeOnlyPatch, userIdOf } from '../src/intake/scim/active-patch.ts';
import { ScimUserService } from '../src/intake/scim/user-service.ts';
import { ENTERPRISE, PATCH_OP, USER_SCHEMA, startScimDaemon, type ScimResponse, type ScimTestDaemon } from './helpers/scim-daemon.ts';

const CORE_ACTIVE = `${USER_SCHEMA}:active`;
const patch = (...Operations: unknown[]) => ({ schemas: [PATCH_OP], Operations });

describe('which PATCH bodies are served without SCIMMY', () => {
  it('accepts one replace of active, in the value-object form (Okta) and the path form (Entra), any case of op', () => {
    expect(activeOnlyPatch(patch({ op: 'replace', value: { active: false } }), {})).toBe(false);
    expect(activeOnlyPatch(patch({ op: 'Replace', path: 'active', value: false }), {})).toBe(false);
    expect(activeOnlyPatch(patch({ op: 'REPLACE', path: 'active', value: true }), {})).toBe(true);
  });

  it.each([
    ['a query (attributes)', patch({ op: 'replace', value: { active: false } }), { attributes: 'userName' }],
    ['two operations', patch({ op: 'replace', value: { active: false } }, { op: 'replace', path: 'displayName', value: 'x' }), {}],
    ['no operation', patch(), {}],
    ['add', patch({ op: 'add', path: 'active', value: false }), {}],
    ['remove', patch({ op: 'remove', path: 'active' }), {}],
    ['another attribute beside active', patch({ op: 'replace', value: { active: false, displayName: 'x' } }), {}],
    ['another path', patch({ op: 'replace', path: 'displayName', value: 'x' }), {}],
    ['a URN path', patch({ op: 'replace', path: CORE_ACTIVE, value: false }), {}],
    ['a string value (not repaired)', patch({ op: 'replace', path: 'active', value: 'no' }), {}],
    ['an unknown member in the operation', patch({ op: 'replace', path: 'active', value: false, extra: 1 }), {}],
    ['an unknown member in the message', { ...patch({ op: 'replace', value: { active: false } }), id: 'x' }, {}],
    ['a second schema', { schemas: [PATCH_OP, USER_SCHEMA], Operations: [{ op: 'replace', value: { active: false } }] }, {}],
    ['no schemas', { Operations: [{ op: 'replace', value: { active: false } }] }, {}],
    ['a body that is not an object', [patch({ op: 'replace', value: { active: false } })], {}],
  ])('leaves %s to SCIMMY', (_what, body, query) => {
    expect(activeOnlyPatch(body, query)).toBeNull();
  });

  it('takes the id from /Users/<id> only, decoded, and leaves a malformed escape to SCIMMY', () => {
    expect(userIdOf('/Users/abc')).toBe('abc');
    expect(userIdOf('/users/abc/')).toBe('abc');
    expect(userIdOf('/Users/a%20b')).toBe('a b');
    expect(userIdOf('/Users/')).toBeNull();
    expect(userIdOf('/Users/a/b')).toBeNull();
    expect(userIdOf('/Groups/abc')).toBeNull();
    expect(userIdOf('/Users/%C0%AE')).toBeNull();
  });
});

describe('the same change through SCIMMY and without it', () => {
  let d: ScimTestDaemon;
  let counter = 0;

  // The returned function is vitest's teardown for this suite.
  beforeAll(async () => {
    d = await startScimDaemon();
    return () => d.stop();
  });

  /** The same user twice, told apart only by the userName (which externalId and emails repeat). */
  async function createPair(body: Record<string, unknown>): Promise<Array<{ id: string; userName: string }>> {
    counter += 1;
    const pair = [];
    for (const side of ['fast', 'scimmy']) {
      const userName = `${side}-${counter}@example.com`;
      const extra = body.emails
        ? {
            emails: [
              { value: userName, type: 'work', primary: true },
              { value: `home-${userName}`, type: 'home' },
            ],
          }
        : {};
      const response = await d.scim('POST', '/Users', {
        body: { schemas: [USER_SCHEMA, ENTERPRISE], userName, externalId: `ext-${userName}`, ...body, ...extra },
      });
      expect(response.status, response.text).toBe(201);
      pair.push({ id: response.body.id as string, userName });
    }
    return pair;
  }

  /** Everything observable about one user, with its own id and userName replaced so the two sides compare. */
  async function observe(user: { id: string; userName: string }, response: ScimResponse): Promise<unknown> {
    const entry = await d.daemon.store.directory.getUser(user.id);
    const terminations = (await d.terminations()).filter((t) => t.subject.userName === user.userName);
    const audit = (await d.daemon.store.listAudit(0, 100_000)).filter((e) => terminations.some((t) => t.id === e.terminationId));
    const seen = {
      status: response.status,
      contentType: response.headers.get('content-type'),
      warning: response.headers.get('warning'),
      body: response.body,
      // The bytes too: the fast answer keeps SCIMMY's attribute order.
      text: response.text.replaceAll(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '<time>'),
      entry: entry && { ...entry, createdAt: 'T', updatedAt: 'T' },
      terminations: terminations.map((t) => ({
        state: t.state,
        reason: t.reason,
        sourceEventId: t.sourceEventId,
        subject: t.subject,
        createdBy: t.createdBy,
      })),
      audit: audit.map((e) => [e.actor, e.action]),
    };
    const text = JSON.stringify(seen)
      .replaceAll(user.id, '<id>')
      .replaceAll(user.userName, '<userName>')
      .replaceAll(/"\d{4}-\d\d-\d\dT[\d:.]+Z"/g, '"<time>"')
      .replaceAll(new RegExp(terminations.map((t) => t.id).join('|') || '^$', 'g'), '<termination>');
    return JSON.parse(text);
  }

  const fastForms = [
    (active: boolean) => patch({ op: 'replace', value: { active } }),
    (active: boolean) => patch({ op: 'Replace', path: 'active', value: active ? 'True' : 'False' }),
  ];
  // `add` sets a single-valued attribute as `replace` does (RFC 7644 §3.5.2.1): SCIMMY serves this one.
  const scimmyForm = (active: boolean) => patch({ op: 'add', path: 'active', value: active });

  it.each([
    ['a minimal user', {}],
    ['a user created without active', { active: undefined }],
    ['a user created inactive', { active: false }],
    [
      'a full user with emails, name and the enterprise extension',
      {
        active: true,
        displayName: 'Ada L',
        title: 'Engineer',
        name: { givenName: 'Ada', familyName: 'Lovelace' },
        emails: [],
        phoneNumbers: [{ value: '+44 20 7946 0000', type: 'work' }],
        [ENTERPRISE]: { employeeNumber: '42', department: 'R&D' },
      },
    ],
  ])('%s: deactivate, deactivate again, rehire, rehire again', async (_what, body) => {
    const [fast, viaScimmy] = await createPair(body);
    const setActive = vi.spyOn(ScimUserService.prototype, 'setActive');
    try {
      for (const [step, active] of [false, false, true, true].entries()) {
        setActive.mockClear();
        const fastAnswer = await d.scim('PATCH', `/Users/${fast!.id}`, { body: fastForms[step % 2]!(active) });
        expect(setActive).toHaveBeenCalledTimes(1);
        const scimmyAnswer = await d.scim('PATCH', `/Users/${viaScimmy!.id}`, { body: scimmyForm(active) });
        expect(setActive).toHaveBeenCalledTimes(1);
        expect(fastAnswer.status, fastAnswer.text).toBe(200);
        expect(fastAnswer.body.active).toBe(active);
        expect(await observe(fast!, fastAnswer)).toStrictEqual(await observe(viaScimmy!, scimmyAnswer));
      }
    } finally {
      setActive.mockRestore();
    }
  });

  it('a user with a manager: the Subject names the manager either way', async () => {
    const manager = await d.scim('POST', '/Users', {
      body: { schemas: [USER_SCHEMA], userName: `manager-${Date.now()}@example.com`, emails: [{ value: 'boss@example.com' }] },
    });
    const [fast, viaScimmy] = await createPair({ [ENTERPRISE]: { manager: { value: manager.body.id } } });
    const fastAnswer = await d.scim('PATCH', `/Users/${fast!.id}`, { body: fastForms[0]!(false) });
    const scimmyAnswer = await d.scim('PATCH', `/Users/${viaScimmy!.id}`, { body: scimmyForm(false) });
    const seen = await observe(fast!, fastAnswer);
    expect(seen).toStrictEqual(await observe(viaScimmy!, scimmyAnswer));
    expect((seen as any).terminations[0].subject.manager).toEqual({ userName: manager.body.userName, email: 'boss@example.com' });
  });

  it('answers an unknown id 404 with the same SCIM error body either way', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const fastAnswer = await d.scim('PATCH', `/Users/${id}`, { body: fastForms[0]!(false) });
    const scimmyAnswer = await d.scim('PATCH', `/Users/${id}`, { body: scimmyForm(false) });
    expect(fastAnswer.status).toBe(404);
    expect({ ...fastAnswer.body }).toStrictEqual({ ...scimmyAnswer.body });
    expect(fastAnswer.headers.get('content-type')).toBe(scimmyAnswer.headers.get('content-type'));
  });
});
