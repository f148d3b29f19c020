/**
 * Gmail forwarding and Drive public links through the whole daemon against the Google
 * sandbox: after a termination, the sandbox's own state (not the daemon's evidence) shows
 * forwarding off and no anyone-with-the-link permission on the leaver's files, which the
 * transfer has meanwhile moved to the manager: revoked first, so the manager inherited none.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { googleModule } from '../providers/google/index.ts';
import type { ProviderModule } from '../providers/module.ts';
import { configSchema } from '../src/config/schema.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { pollUntil } from './helpers/poll.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';
import { inlineAttemptsIn } from './helpers/test-module.ts';

interface SandboxUserState {
  id: string;
  gmail: { autoForwarding: { enabled: boolean }; forwardingAddresses: unknown[]; filters: Array<{ action: { forward?: string } }> };
  driveFiles: Array<{ id: string; visibility: string; permissions: string[] }>;
}

describe('Gmail and Drive doors: a termination through the daemon, read at the sandbox', () => {
  let dir: string;
  let daemon: Daemon;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-google-doors-'));
    const config = configSchema.parse({
      server: { port: 0 },
      store: { sqlite: { path: join(dir, 'store.db') } },
      auth: { admin: [{ name: 'ops', token: 'operator-token-google-doors-01', role: 'operator' }] },
      engine: { retry: { maxAttempts: 2, baseDelay: '10ms', maxDelay: '50ms' } },
      providers: { google: { kind: 'google', sandbox: { autoProvision: false } } },
      playbooks: {
        employee: {
          steps: [
            { id: 'stop-forwarding', provider: 'google', action: 'stop_mail_forwarding' },
            { id: 'revoke-public-links', provider: 'google', action: 'revoke_public_links' },
            { id: 'suspend', provider: 'google', action: 'disable_account' },
            { id: 'transfer-files', provider: 'google', action: 'transfer_files', after: ['suspend', 'revoke-public-links'] },
          ],
        },
      },
      defaultPlaybook: 'employee',
    });
    daemon = await startDaemon(inlineAttemptsIn(config), {
      configFile: 'google-doors.yaml',
      logger: silentLogger(),
      modules: new Map<string, ProviderModule>([['google', googleModule]]),
    });
  });
  afterAll(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves no forwarding and no public link, on the leaver nor on the files the manager received', async () => {
    const sandbox = daemon.sandboxes.get('google')!.url;
    const leaver = 'grace.hopper@example.com';
    const manager = 'mary.jackson@example.com';
    await sandboxControl(sandbox, '/users', {
      primaryEmail: leaver,
      forwardTo: 'grace@personal.example',
      forwardingFilters: 2,
      imap: true,
      pop: true,
      files: 2,
      publicFiles: 3,
      domainFiles: 1,
    });
    await sandboxControl(sandbox, '/users', { primaryEmail: manager });
    const before = await sandboxControl<SandboxUserState>(sandbox, `/users/${leaver}`);
    expect(before.driveFiles.filter((f) => f.visibility === 'anyoneWithLink')).toHaveLength(3);

    const { termination } = await daemon.terminations.submit({
      source: 'admin',
      subject: { userName: leaver, emails: [leaver], manager: { email: manager } },
      reason: 'google doors',
      actor: 'test',
    });
    const tasks = await pollUntil(
      async () => {
        const all = await daemon.store.listTasks(termination.id);
        return all.every((t) => t.state === 'succeeded') ? all : null;
      },
      () => 'the termination did not succeed',
      30_000,
    );
    expect(tasks.find((t) => t.stepId === 'revoke-public-links')!.evidence).toMatchObject({ execute: { permissionsRemoved: 3 } });

    const after = await sandboxControl<SandboxUserState>(sandbox, `/users/${leaver}`);
    expect(after.gmail.autoForwarding.enabled).toBe(false);
    expect(after.gmail.forwardingAddresses).toEqual([]);
    expect(after.gmail.filters.filter((f) => f.action.forward)).toEqual([]);
    // Every file moved to the manager, and none carries an anyone permission; the domain link stays (default `links: anyone`).
    expect(after.driveFiles).toEqual([]);
    const received = (await sandboxControl<SandboxUserState>(sandbox, `/users/${manager}`)).driveFiles;
    expect(received.map((f) => f.id).sort()).toEqual(before.driveFiles.map((f) => f.id).sort());
    expect(received.flatMap((f) => f.permissions).filter((p) => p.startsWith('anyone:'))).toEqual([]);
    expect(received.map((f) => f.visibility).sort()).toEqual(['domainWithLink', 'limited', 'limited', 'limited', 'limited', 'limited']);
  }, 60_000);
});
