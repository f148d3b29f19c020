/**
 * revoke_public_links end to end: a whole daemon with its engine on runs the Microsoft steps
 * of a termination against the Graph sandbox it started, and the proof is the sandbox's own
 * state afterwards (no anyone link left, the organization link kept, the manager's grant
 * made after the links went), not the daemon's word.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { microsoftUserState, seedMicrosoftUser } from '../providers/microsoft/sandbox.ts';
import { configSchema } from '../src/config/schema.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { pollUntil } from './helpers/poll.ts';
import { inlineAttemptsIn } from './helpers/test-module.ts';

let daemon: Daemon;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deprovisiond-links-'));
  const config = configSchema.parse({
    server: { host: '127.0.0.1', port: 0 },
    store: { sqlite: { path: join(dir, 'store.db') } },
    engine: { retry: { maxAttempts: 3, baseDelay: '10ms', maxDelay: '50ms' } },
    providers: { microsoft: { kind: 'microsoft', sandbox: { autoProvision: true } } },
    playbooks: {
      default: {
        steps: [
          { id: 'disable', provider: 'microsoft', action: 'disable_account' },
          { id: 'revoke-links', provider: 'microsoft', action: 'revoke_public_links', after: ['disable'] },
          { id: 'share-onedrive', provider: 'microsoft', action: 'transfer_files', after: ['disable', 'revoke-links'] },
        ],
      },
    },
    defaultPlaybook: 'default',
  });
  daemon = await startDaemon(inlineAttemptsIn(config), { configFile: join(dir, 'test.yaml'), logger: silentLogger() });
});
afterAll(async () => {
  await daemon?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it("after the termination the sandbox's OneDrive holds no anyone link; the links went before the manager's grant", async () => {
  const sandbox = daemon.sandboxes.get('microsoft')!;
  const leaver = `links-leaver-${process.pid}@contoso.example`;
  const manager = `links-manager-${process.pid}@contoso.example`;
  await seedMicrosoftUser(sandbox.url, { userPrincipalName: manager });
  const user = await seedMicrosoftUser(sandbox.url, {
    userPrincipalName: leaver,
    driveItems: [
      { name: 'Shared folder', folder: true, links: [{ scope: 'anonymous', type: 'edit' }] },
      { name: 'Inside.docx', parent: 0, links: [{ scope: 'anonymous' }] },
      { name: 'Company.xlsx', links: [{ scope: 'organization' }] },
    ],
  });
  expect((await microsoftUserState(sandbox.url, user.id))!.publicLinks.filter((l) => l.scope === 'anonymous')).toHaveLength(2);

  const { termination } = await daemon.terminations.submit({
    source: 'admin',
    subject: { userName: leaver, emails: [leaver], manager: { email: manager } },
    actor: 'admin:test',
  });
  await pollUntil(
    async () => (await daemon.store.getTermination(termination.id))?.state === 'completed',
    () => 'timed out waiting for the termination to complete',
    30_000,
  );

  const state = (await microsoftUserState(sandbox.url, user.id))!;
  expect(state.publicLinks.map((l) => l.scope)).toEqual(['organization']);
  expect(state.accountEnabled).toBe(false);
  expect(state.drivePermissions).toContainEqual({ email: manager, roles: ['write'] });
  const writes = sandbox.control.writeLog.filter((w) => w.accountId === user.id).map((w) => w.operation);
  expect(writes.filter((op) => op === 'remove_public_link')).toHaveLength(2);
  expect(writes.lastIndexOf('remove_public_link')).toBeLessThan(writes.indexOf('grant_drive_access'));
});
