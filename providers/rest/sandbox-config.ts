/**
 * The `rest` provider's config for the in-house sandbox (providers/rest/sandbox.ts): the
 * complete example of docs/providers/rest.md, as data. Plain values only, so `kind.ts` can
 * point an adapter at a running sandbox without loading the emulator.
 */
import type { RestConfigInput } from './config.ts';
import { INHOUSE_SANDBOX_TOKEN } from './sandbox-credentials.ts';

/** Everything but `baseUrl`: the sandbox's API under `/api/v1`. */
export function inhouseSandboxSettings(baseUrl: string): RestConfigInput {
  return {
    baseUrl,
    auth: { type: 'bearer', token: INHOUSE_SANDBOX_TOKEN },
    probe: { method: 'GET', url: '/me' },
    resolve: { request: { method: 'GET', url: '/tenants?externalId={{subject.externalId}}' }, id: 'data[0].id' },
    actions: {
      revoke_credentials: {
        request: { method: 'POST', url: '/tenants/{{account.id}}/credentials/revoke' },
        verify: {
          request: { method: 'GET', url: '/tenants/{{account.id}}/credentials' },
          condition: 'length(apiKeys) == `0` && length(oauthApps) == `0`',
          evidence: { apiKeys: 'length(apiKeys)', oauthApps: 'length(oauthApps)' },
        },
      },
      disable_account: {
        request: { method: 'PATCH', url: '/tenants/{{account.id}}', body: { enabled: false } },
        verify: {
          request: { method: 'GET', url: '/tenants/{{account.id}}' },
          condition: 'enabled == `false`',
          evidence: { enabled: 'enabled' },
        },
      },
      export_data: {
        request: {
          method: 'POST',
          url: '/tenants/{{account.id}}/exports',
          body: { format: 'json', reason: 'offboarding {{terminationId}}' },
        },
        poll: {
          capture: { exportId: 'id' },
          request: { method: 'GET', url: '/tenants/{{account.id}}/exports/{{job.exportId}}' },
          until: "status == 'ready'",
          failedWhen: "status == 'failed'",
          intervalMs: 100,
          timeoutMs: 60_000,
        },
        verify: {
          request: { method: 'GET', url: '/tenants/{{account.id}}/exports' },
          condition: "length(data[?status == 'ready' && downloadUrl != null]) > `0`",
          // The download link is a bearer secret: its presence is recorded, never the link.
          evidence: {
            readyExports: "length(data[?status == 'ready'])",
            downloadLinkPresent: "data[?status == 'ready'] | [0].downloadUrl != null",
          },
        },
      },
      delete_account: {
        request: { method: 'DELETE', url: '/tenants/{{account.id}}/data' },
        verify: {
          request: { method: 'GET', url: '/tenants/{{account.id}}' },
          condition: 'dataDeletedAt != null && records == `0`',
          evidence: { records: 'records', dataDeleted: 'dataDeletedAt != null' },
        },
      },
    },
  };
}
