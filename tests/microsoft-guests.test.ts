/**
 * Entra's listMembers (issue 28) against the Microsoft Graph sandbox: a client's B2B guests by
 * email domain, an advanced query (ConsistencyLevel: eventual, $count=true) followed page by page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Member, Provider } from '../providers/contract.ts';
import { microsoftModule } from '../providers/microsoft/index.ts';
import { seedMicrosoftUser, startMicrosoftSandbox } from '../providers/microsoft/sandbox.ts';
import type { RunningSandbox } from '../providers/sandbox/kit.ts';
import type { Organization } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';

let sandbox: RunningSandbox;
let provider: Provider;

async function members(organization: Organization): Promise<Member[]> {
  const found: Member[] = [];
  for await (const member of provider.listMembers!(organization, actionContext({ emails: [], organization }))) found.push(member);
  return found;
}

beforeAll(async () => {
  sandbox = await startMicrosoftSandbox({});
  provider = microsoftModule.create(microsoftModule.sandboxConfig(sandbox), { name: 'entra', logger: silentLogger() });
});
afterAll(async () => {
  await sandbox?.close();
});

describe('listMembers at Entra', () => {
  // The sandbox answers endswith only with ConsistencyLevel: eventual and $count=true, as Graph does: a listing
  // that succeeds sent both, on every page.
  it('lists the enabled guests of the domain, across pages, and no member of the tenant with that domain', async () => {
    const { ids } = await sandboxControl<{ ids: string[] }>(sandbox.url, '/guests', { domain: 'partner.example', count: 230 });
    await sandboxControl(sandbox.url, '/guests', { domain: 'partner.example.net', count: 2 });
    // Not a guest: an employee whose address happens to be at the client's domain is not the client's person.
    await seedMicrosoftUser(sandbox.url, { userPrincipalName: 'staff@corp.example', mail: 'staff@partner.example' });
    const found = await members({ id: 'partner', domains: ['partner.example'], tenants: { entra: 'ignored' } });
    expect(found.map((m) => m.account.id).sort()).toEqual([...ids].sort());
    expect(found[0]!.login).toMatch(/#EXT#@/);
    const listings = sandbox.control.requests.filter((r) => r.method === 'GET' && r.path === '/v1.0/users');
    expect(listings.length, '230 guests at 100 a page').toBe(3);
  });
});
