/**
 * Real IdP request shapes, all the way to verified tasks: a whole daemon with its engine on,
 * the real Okta adapter (SDK) against the Okta sandbox, and SCIM deliveries exactly as
 * Okta and Microsoft Entra send them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OKTA_SANDBOX_TOKEN } from '../providers/okta/sandbox.ts';
import type { Termination } from '../src/domain/types.ts';
import { ENTERPRISE, PATCH_OP, USER_SCHEMA, startScimDaemon, type ScimTestDaemon } from './helpers/scim-daemon.ts';

let d: ScimTestDaemon;

beforeAll(async () => {
  d = await startScimDaemon({ provider: 'okta', runEngine: true });
});
afterAll(async () => {
  await d?.stop();
});

async function oktaStatus(login: string): Promise<string> {
  const sandbox = d.daemon.sandboxes.get('okta')!;
  const response = await fetch(`${sandbox.url}/api/v1/users/${encodeURIComponent(login)}`, {
    headers: { authorization: `SSWS ${OKTA_SANDBOX_TOKEN}` },
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { status: string }).status;
}

async function completedTerminationFor(externalId: string): Promise<Termination> {
  return d.waitFor(async () => {
    const found = (await d.terminations()).filter((t) => t.subject.externalId === externalId);
    return found.length === 1 && found[0]!.state === 'completed' ? found[0] : null;
  }, `the termination of ${externalId} to complete`);
}

async function expectVerified(termination: Termination, login: string): Promise<void> {
  const tasks = await d.tasks(termination.id);
  expect(tasks.map((t) => [t.stepId, t.state]).sort()).toEqual([
    ['okta-revoke', 'succeeded'],
    ['okta-suspend', 'succeeded'],
  ]);
  // Succeeded means read back: the verify step's evidence is on every task.
  for (const task of tasks) expect(task.evidence).toBeTruthy();
  expect(termination.revokedAt).not.toBeNull();
  expect(await oktaStatus(login)).toBe('SUSPENDED');
}

describe('SCIM deprovisioning end to end (Okta adapter and sandbox)', () => {
  it('Okta: POST the user, then PATCH {"op":"replace","value":{"active":false}}', async () => {
    const login = `okta.push.${Date.now()}@example.com`;
    const created = await d.scim('POST', '/Users', {
      body: {
        schemas: [USER_SCHEMA],
        userName: login,
        externalId: `00u-okta-${Date.now()}`,
        name: { givenName: 'Olive', familyName: 'Kta' },
        emails: [{ primary: true, value: login, type: 'work' }],
        displayName: 'Olive Kta',
        locale: 'en-US',
        groups: [],
        password: 'pushed-by-okta-1!',
        active: true,
      },
    });
    expect(created.status, created.text).toBe(201);
    expect(await oktaStatus(login)).toBe('ACTIVE');

    const body = { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] };
    const patched = await d.scim('PATCH', `/Users/${created.body.id}`, { body });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.active).toBe(false);

    const termination = await completedTerminationFor(created.body.externalId);
    await expectVerified(termination, login);

    // Okta redelivers: nothing new, the completed termination stays the only one.
    expect((await d.scim('PATCH', `/Users/${created.body.id}`, { body })).status).toBe(200);
    expect((await d.terminations()).filter((t) => t.subject.externalId === created.body.externalId)).toHaveLength(1);
  });

  it('Entra: POST the user (with its manager), then PATCH {"op":"Replace","path":"active","value":"False"}', async () => {
    const stamp = Date.now();
    const manager = await d.scim('POST', '/Users', {
      body: {
        schemas: [USER_SCHEMA],
        userName: `boss.${stamp}@example.com`,
        externalId: `boss-${stamp}`,
        active: true,
        emails: [{ value: `boss.${stamp}@example.com`, primary: true, type: 'work' }],
      },
    });
    expect(manager.status, manager.text).toBe(201);
    const login = `entra.push.${stamp}@example.com`;
    // Entra's create: string booleans are common in its bodies, and its own externalId mapping (the object id).
    const created = await d.scim('POST', '/Users', {
      contentType: 'application/scim+json; charset=utf-8',
      body: {
        schemas: [USER_SCHEMA, ENTERPRISE],
        externalId: `entra-${stamp}`,
        userName: login,
        active: 'True',
        displayName: 'Eve Ntra',
        emails: [{ primary: 'True', type: 'work', value: login }],
        name: { formatted: 'Eve Ntra', familyName: 'Ntra', givenName: 'Eve' },
        [ENTERPRISE]: { employeeNumber: '7007', department: 'Finance' },
      },
    });
    expect(created.status, created.text).toBe(201);
    // Entra looks the user up first, and sets the manager the way its guide shows.
    const lookup = await d.scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${login.toUpperCase()}"`)}`);
    expect(lookup.body.Resources.map((r: any) => r.id)).toEqual([created.body.id]);
    const managerPatch = await d.scim('PATCH', `/Users/${created.body.id}`, {
      body: {
        schemas: [PATCH_OP],
        Operations: [{ op: 'Add', path: `${ENTERPRISE}:manager`, value: [{ $ref: null, value: manager.body.id }] }],
      },
    });
    expect(managerPatch.status, managerPatch.text).toBe(200);
    expect(managerPatch.body[ENTERPRISE].manager.value).toBe(manager.body.id);

    const patched = await d.scim('PATCH', `/Users/${created.body.id}`, {
      body: { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] },
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.active).toBe(false);

    const termination = await completedTerminationFor(`entra-${stamp}`);
    expect(termination.subject).toEqual({
      externalId: `entra-${stamp}`,
      userName: login,
      emails: [login],
      displayName: 'Eve Ntra',
      manager: { externalId: `boss-${stamp}`, userName: `boss.${stamp}@example.com`, email: `boss.${stamp}@example.com` },
    });
    expect(termination.createdBy).toBe('scim:token-0');
    await expectVerified(termination, login);
  });
});
