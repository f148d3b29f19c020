/**
 * The `rest` adapter, configured for the in-house sandbox (providers/rest/sandbox-config.ts),
 * passes the shared conformance suite: every action reads first, so the non-idempotent
 * writes (revoking credentials, deleting data) reach the system once even when an answer is
 * lost; the export is polled to completion through `inProgress`.
 */
import { restModule } from '../providers/rest/index.ts';
import { restConfigSchema } from '../providers/rest/config.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { runConformance } from './conformance/suite.ts';

runConformance({
  kind: 'rest',
  actions: ['revoke_credentials', 'disable_account', 'export_data', 'delete_account'],
  async start() {
    const sandbox = await restModule.startSandbox({ autoProvision: true });
    const config = restConfigSchema.parse(restModule.sandboxConfig(sandbox));
    const provider = restModule.create(config, { name: 'inhouse', logger: silentLogger() });
    const badCredentials = restModule.create(
      { ...config, auth: { type: 'bearer', token: 'not-the-token' } },
      { name: 'inhouse-bad', logger: silentLogger() },
    );
    return { sandbox, provider, badCredentials };
  },
  readFirstWrites: {
    revoke_credentials: [{ method: 'POST', path: /^\/api\/v1\/tenants\/[^/]+\/credentials\/revoke$/ }],
    disable_account: [{ method: 'PATCH', path: /^\/api\/v1\/tenants\/[^/]+$/ }],
    delete_account: [{ method: 'DELETE', path: /^\/api\/v1\/tenants\/[^/]+\/data$/ }],
  },
  undo: {
    revoke_credentials: (account, sandbox) => undo(sandbox.url, account.id, 'revoke_credentials'),
    disable_account: (account, sandbox) => undo(sandbox.url, account.id, 'disable_account'),
  },
  rateLimitDelayMs: 2000,
  // Retry-After is in whole seconds.
  rateLimitToleranceMs: 1000,
});

async function undo(url: string, tenantId: string, action: string): Promise<void> {
  const response = await fetch(`${url}/__sandbox/tenants/${tenantId}/undo`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ action }),
  });
  if (!response.ok) throw new Error(`undo ${action}: HTTP ${response.status}`);
}
