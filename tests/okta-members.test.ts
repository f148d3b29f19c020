/**
 * Okta's listMembers (issue 28) against the Okta sandbox, the real SDK over loopback: a
 * client's people by email domain or by their group, every page followed by its Link header.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Member, Provider } from '../providers/contract.ts';
import { oktaModule } from '../providers/okta/index.ts';
import { OKTA_SANDBOX_TOKEN } from '../providers/okta/sandbox.ts';
import type { RunningSandbox } from '../providers/sandbox/kit.ts';
import { PermanentError } from '../src/domain/errors.ts';
import type { Organization } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';

let sandbox: RunningSandbox;
let provider: Provider;

async function control<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(`${sandbox.url}/__sandbox${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`sandbox ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function members(organization: Organization): Promise<Member[]> {
  const found: Member[] = [];
  const subject = { emails: [], organization };
  for await (const member of provider.listMembers!(organization, actionContext(subject))) found.push(member);
  return found;
}

const pagesOf = (path: string) => sandbox.control.requests.filter((r) => r.method === 'GET' && r.path === path).length;

beforeAll(async () => {
  sandbox = await oktaModule.startSandbox({});
  provider = oktaModule.create(oktaModule.sandboxConfig(sandbox), { name: 'okta-test', logger: silentLogger() });
  await control('/members', { domain: 'acme.example', count: 450 });
  await control('/members', { domain: 'globex.example', count: 30, group: 'Globex people' });
  // Not Acme's: the domain only contains "@acme.example" as a part.
  await control('/members', { domain: 'acme.example.evil', count: 3 });
  await control('/users', { login: 'gone@acme.example', status: 'DEPROVISIONED' });
});
afterAll(async () => {
  await sandbox?.close();
});

describe('listMembers at Okta', () => {
  it('finds every user of the domains, across pages, and no one whose address only contains the domain', async () => {
    const before = pagesOf('/api/v1/users');
    const found = await members({ id: 'acme', domains: ['acme.example'] });
    expect(found).toHaveLength(450);
    expect(new Set(found.map((m) => m.account.id)).size).toBe(450);
    expect(found.every((m) => m.email?.endsWith('@acme.example'))).toBe(true);
    expect(found.map((m) => m.email)).not.toContain('gone@acme.example');
    expect(pagesOf('/api/v1/users') - before, '451 matches at 200 a page: three pages').toBe(3);
    const one = found.find((m) => m.email === 'member-7@acme.example')!;
    expect(one.account).toMatchObject({ login: 'member-7@acme.example', status: 'ACTIVE' });
    expect(one.account.id).toMatch(/^00u/);
  });

  it('lists the members of the organization’s Okta group, named or by id', async () => {
    const byName = await members({ id: 'globex', domains: ['unused.example'], tenants: { okta: 'Globex people' } });
    expect(byName).toHaveLength(30);
    expect(byName.every((m) => m.email?.endsWith('@globex.example'))).toBe(true);
    const { groupId } = await control<{ groupId: string }>('/members', {
      domain: 'globex.example',
      prefix: 'late',
      count: 1,
      group: 'Globex people',
    });
    const byId = await members({ id: 'globex', domains: ['unused.example'], tenants: { okta: groupId } });
    expect(byId, 'a member added since is found: the listing is a sweep').toHaveLength(31);
  });

  it('refuses a group name no group has, as a permanent error', async () => {
    await expect(members({ id: 'x', domains: ['x.example'], tenants: { okta: 'No such group' } })).rejects.toBeInstanceOf(PermanentError);
  });

  it('answers an unsupported search with Okta’s 400, which the adapter reads as permanent', async () => {
    const res = await fetch(`${sandbox.url}/api/v1/users?search=${encodeURIComponent('profile.email ew "@acme.example"')}`, {
      headers: { authorization: `SSWS ${OKTA_SANDBOX_TOKEN}` },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errorCode: string }).errorCode).toBe('E0000031');
  });
});
