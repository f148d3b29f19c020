/**
 * The SCIM app's listMembers (issue 28) against the SCIM target emulator: a client's people by
 * email domain or by their enterprise `organization`, paged by startIndex and count, and a
 * target that ignores the filter refused rather than trusted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Member, Provider } from '../providers/contract.ts';
import { scimModule } from '../providers/scim/index.ts';
import type { RunningSandbox } from '../providers/sandbox/kit.ts';
import { PermanentError } from '../src/domain/errors.ts';
import type { Organization } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';

let sandbox: RunningSandbox;
let provider: Provider;

async function control(path: string, body: unknown): Promise<void> {
  const res = await fetch(`${sandbox.url}/__sandbox${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`sandbox ${path}: ${res.status} ${await res.text()}`);
}

async function members(organization: Organization): Promise<Member[]> {
  const found: Member[] = [];
  for await (const member of provider.listMembers!(organization, actionContext({ emails: [], organization }))) found.push(member);
  return found;
}

const listRequests = () => sandbox.control.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/Users')).length;

beforeAll(async () => {
  sandbox = await scimModule.startSandbox({});
  provider = scimModule.create(scimModule.sandboxConfig(sandbox), { name: 'app-test', logger: silentLogger() });
  await control('/members', { domain: 'acme.example', count: 250 });
  await control('/members', { domain: 'initech.example', count: 12, organization: 'Initech Ltd' });
  await control('/members', { domain: 'acme.example.evil', count: 2 });
  await control('/users', { userName: 'left@acme.example', emails: ['left@acme.example'], active: false });
});
afterAll(async () => {
  await sandbox?.close();
});

describe('listMembers at a SCIM app', () => {
  it('pages through every active user of the domain, and no one else', async () => {
    const before = listRequests();
    const found = await members({ id: 'acme', domains: ['acme.example'] });
    expect(found).toHaveLength(250);
    expect(new Set(found.map((m) => m.account.id)).size).toBe(250);
    expect(found.map((m) => m.email)).not.toContain('left@acme.example');
    expect(found.every((m) => m.email?.endsWith('@acme.example'))).toBe(true);
    expect(listRequests() - before, '251 matches at 100 a page').toBe(3);
    expect(found[0]!.account).toMatchObject({ active: true, lookup: 'userName' });
  });

  it('lists the users of the organization value, by the enterprise extension', async () => {
    const found = await members({ id: 'initech', domains: ['other.example'], tenants: { scim: 'Initech Ltd' } });
    expect(found).toHaveLength(12);
    expect(found.every((m) => m.email?.endsWith('@initech.example'))).toBe(true);
  });

  it('refuses a target that ignores the filter and lists strangers', async () => {
    await control('/behaviour', { ignoreFilters: true });
    try {
      await expect(members({ id: 'acme', domains: ['acme.example'] })).rejects.toBeInstanceOf(PermanentError);
    } finally {
      await control('/behaviour', { ignoreFilters: false });
    }
  });
});
