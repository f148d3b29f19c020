/**
 * A termination through the whole daemon (SQLite, attempts on the worker thread, the real
 * AWS SDK against the IAM emulator), then the emulator's own state read back: the leaver has
 * no access key, no console password, no MFA device and no group left.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { pollUntil } from './helpers/poll.ts';

const config = (dir: string) => `
server: { port: 0 }
store: { sqlite: { path: ${join(dir, 'store.db')} } }
auth:
  admin: [{ name: ops, token: aws-daemon-admin-token-0123, role: operator }]
providers:
  aws: { kind: aws, sandbox: { autoProvision: true } }
playbooks:
  default:
    steps:
      - { id: aws-revoke-credentials, provider: aws, action: revoke_credentials }
      - { id: aws-remove-groups, provider: aws, action: remove_groups, after: [aws-revoke-credentials] }
defaultPlaybook: default
`;

describe('AWS IAM through the daemon', () => {
  let dir: string;
  let daemon: Daemon;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-aws-'));
    daemon = await startDaemon(parseConfig(config(dir), 'aws.yaml', {}), { configFile: 'aws.yaml', logger: silentLogger() });
  });
  afterAll(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves the leaver no active key, no login profile, no MFA device and no group', async () => {
    const sandbox = daemon.sandboxes.get('aws')!;
    const state = async () => {
      const res = await fetch(`${sandbox.url}/__sandbox/users/grace.hopper`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const { termination } = await daemon.terminations.submit({
      source: 'admin',
      subject: { externalId: 'E-1906', userName: 'grace.hopper@example.com', emails: ['grace.hopper@example.com'] },
      actor: 'test',
    });
    await pollUntil(
      async () => (await daemon.store.getTermination(termination.id))?.state === 'completed',
      () => 'termination did not complete',
      20_000,
    );
    const tasks = await daemon.store.listTasks(termination.id);
    expect(tasks.map((t) => [t.stepId, t.state]).sort()).toEqual([
      ['aws-remove-groups', 'succeeded'],
      ['aws-revoke-credentials', 'succeeded'],
    ]);
    // The emulator created the user with two active keys, a password, an MFA device and a group when it was first looked up.
    expect(sandbox.control.writes.get('DeleteAccessKey:grace.hopper')).toBe(2);
    const after = await state();
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ accessKeys: [], loginProfile: false, mfaDevices: [], groups: [] });
  }, 30_000);
});
