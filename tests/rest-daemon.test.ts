/**
 * Customer offboarding through the whole daemon against the in-house sandbox (kind `rest`,
 * issue 28): a playbook revokes the tenant's API keys and OAuth apps, disables the tenant,
 * starts a data export and waits for it (polled through the engine's checkpoints: in
 * progress, then ready), and deletes the data after it. The sandbox's state at the end is
 * the proof, with the order of its writes; the evidence holds the link's presence only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderModule } from '../providers/module.ts';
import { restModule } from '../providers/rest/index.ts';
import type { SandboxTenant } from '../providers/rest/sandbox.ts';
import type { WriteLogEntry } from '../providers/sandbox/kit.ts';
import { configSchema } from '../src/config/schema.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { pollUntil } from './helpers/poll.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';
import { inlineAttemptsIn } from './helpers/test-module.ts';

describe('customer offboarding through the daemon against the in-house sandbox', () => {
  let dir: string;
  let daemon: Daemon;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-rest-'));
    const config = configSchema.parse({
      server: { port: 0 },
      store: { sqlite: { path: join(dir, 'store.db') } },
      auth: { admin: [{ name: 'ops', token: 'operator-token-rest-0000001', role: 'operator' }] },
      engine: { retry: { maxAttempts: 3, baseDelay: '10ms', maxDelay: '50ms' } },
      providers: { inhouse: { kind: 'rest', sandbox: { autoProvision: true } } },
      playbooks: {
        customer: {
          steps: [
            { id: 'revoke-keys', provider: 'inhouse', action: 'revoke_credentials' },
            { id: 'disable-tenant', provider: 'inhouse', action: 'disable_account' },
            { id: 'export-data', provider: 'inhouse', action: 'export_data', after: ['disable-tenant'] },
            { id: 'delete-data', provider: 'inhouse', action: 'delete_account', after: ['export-data'], delay: '100ms' },
          ],
        },
      },
      defaultPlaybook: 'customer',
    });
    daemon = await startDaemon(inlineAttemptsIn(config), {
      configFile: 'rest.yaml',
      logger: silentLogger(),
      modules: new Map<string, ProviderModule>([['rest', restModule]]),
    });
  });
  afterAll(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('revokes, disables, waits for the export, then deletes; the sandbox shows each', async () => {
    const { termination } = await daemon.terminations.submit({
      source: 'admin',
      subject: { externalId: 'CUST-1001', emails: ['billing@client.example'], displayName: 'Client Ltd' },
      actor: 'admin:ops',
    });
    let seen = '';
    await pollUntil(
      async () => {
        seen = JSON.stringify((await daemon.store.listTasks(termination.id)).map((t) => [t.stepId, t.state, t.lastError]));
        return (await daemon.store.getTermination(termination.id))?.state === 'completed';
      },
      () => `not completed: ${seen}`,
      15_000,
    );

    const tasks = await daemon.store.listTasks(termination.id);
    const tenantId = (tasks[0]!.account as { id: string }).id;
    expect(tasks.every((t) => t.state === 'succeeded' && (t.account as { id: string }).id === tenantId)).toBe(true);

    const url = daemon.sandboxes.get('inhouse')!.url;
    const tenant = await sandboxControl<SandboxTenant>(url, `/tenants/${tenantId}`);
    expect(tenant).toMatchObject({ externalId: 'CUST-1001', enabled: false, apiKeys: [], oauthApps: [], records: 0 });
    expect(tenant.dataDeletedAt).not.toBeNull();
    expect(tenant.exports).toHaveLength(1);
    expect(tenant.exports[0]).toMatchObject({ status: 'ready', reads: 2 });

    // The export was polled: at least one attempt answered in progress, none used a retry.
    const attempts = await daemon.store.listAttempts(termination.id);
    const exportTask = tasks.find((t) => t.stepId === 'export-data')!;
    const exportAttempts = attempts.filter((a) => a.taskId === exportTask.id).map((a) => a.outcome);
    expect(exportAttempts).toEqual(['in_progress', 'in_progress', 'succeeded']);

    // Deleted only after the export was ready, and each write happened once.
    const writes = await sandboxControl<WriteLogEntry[]>(url, '/writes');
    const ops = writes.filter((w) => w.accountId === tenantId).map((w) => w.operation);
    expect(ops.sort()).toEqual(['delete_data', 'disable', 'export', 'revoke_credentials']);
    const at = (op: string) => writes.find((w) => w.operation === op && w.accountId === tenantId)!.at;
    expect(at('delete_data')).toBeGreaterThan(Date.parse(tenant.exports[0]!.readyAt!));
    expect(at('export')).toBeGreaterThanOrEqual(at('disable'));

    // The evidence says the link was there, never what it was.
    const res = await fetch(`${daemon.url}/admin/v1/terminations/${termination.id}/evidence`, {
      headers: { authorization: 'Bearer operator-token-rest-0000001' },
    });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).not.toMatch(/token=|\/downloads\//);
    const doc = JSON.parse(text) as { tasks: Array<{ step: string; proof: unknown }> };
    expect(JSON.stringify(doc.tasks.find((t) => t.step === 'export-data'))).toMatch(/"downloadLinkPresent":true/);
  });
});
