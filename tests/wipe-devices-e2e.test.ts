/**
 * wipe_devices through the daemon, against the Google and Microsoft sandboxes: a leaver
 * with a phone at each provider (and a Windows laptop at Microsoft). The termination
 * completes with each wipe proven only as `requested` (the devices have not synced); the
 * devices then acknowledge at the sandboxes, an operator asks for a re-verification, and
 * the evidence shows the acknowledgement, read back from the sandboxes' state.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { googleModule } from '../providers/google/index.ts';
import { microsoftModule } from '../providers/microsoft/index.ts';
import { seedMicrosoftUser } from '../providers/microsoft/sandbox.ts';
import type { ProviderModule } from '../providers/module.ts';
import type { EvidenceDocument } from '../src/audit/evidence.ts';
import { configSchema } from '../src/config/schema.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { pollUntil } from './helpers/poll.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';
import { inlineAttemptsIn } from './helpers/test-module.ts';

const TOKEN = 'operator-token-wipe-devices-01';

describe('wipe_devices end to end: requested, then acknowledged by a re-verification', () => {
  let dir: string;
  let daemon: Daemon;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-wipe-'));
    const config = configSchema.parse({
      server: { port: 0 },
      store: { sqlite: { path: join(dir, 'store.db') } },
      auth: { admin: [{ name: 'ops', token: TOKEN, role: 'operator' }] },
      engine: { retry: { maxAttempts: 2, baseDelay: '10ms', maxDelay: '50ms' } },
      // No scheduled round within the test: only the operator's on-demand read-back runs.
      reverify: { offsets: ['1h'], pollInterval: '50ms' },
      providers: { google: { kind: 'google', sandbox: {} }, microsoft: { kind: 'microsoft', sandbox: {} } },
      playbooks: {
        employee: {
          steps: [
            { id: 'google-wipe-devices', provider: 'google', action: 'wipe_devices' },
            { id: 'google-suspend', provider: 'google', action: 'disable_account' },
            { id: 'microsoft-wipe-devices', provider: 'microsoft', action: 'wipe_devices' },
            { id: 'microsoft-disable', provider: 'microsoft', action: 'disable_account' },
          ],
        },
      },
      defaultPlaybook: 'employee',
    });
    daemon = await startDaemon(inlineAttemptsIn(config), {
      configFile: 'wipe-devices.yaml',
      logger: silentLogger(),
      modules: new Map<string, ProviderModule>([
        ['google', googleModule],
        ['microsoft', microsoftModule],
      ]),
    });
  });
  afterAll(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const evidence = async (id: string): Promise<EvidenceDocument> => {
    const res = await fetch(`${daemon.url}/admin/v1/terminations/${id}/evidence`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as EvidenceDocument;
  };

  it('a leaver with a phone at each provider: succeeded as requested; the devices sync; the re-verification shows the acknowledgement', async () => {
    const login = 'phone-owner@example.com';
    const google = daemon.sandboxes.get('google')!.url;
    const microsoft = daemon.sandboxes.get('microsoft')!.url;
    await sandboxControl(google, '/users', { primaryEmail: login });
    const pixel = await sandboxControl<{ resourceId: string }>(google, `/users/${login}/devices`, { model: 'Pixel 8' });
    const entra = await seedMicrosoftUser(microsoft, {
      userPrincipalName: login,
      managedDevices: [{ operatingSystem: 'iOS' }, { operatingSystem: 'Windows', deviceName: 'LAPTOP-7' }],
    });

    const { termination } = await daemon.terminations.submit({
      source: 'admin',
      subject: { userName: login, emails: [login] },
      actor: 'admin:ops',
    });
    let tasks: Array<[string, string, unknown]> = [];
    await pollUntil(
      async () => {
        tasks = (await daemon.store.listTasks(termination.id)).map((t) => [t.stepId, t.state, t.lastError]);
        return (await daemon.store.getTermination(termination.id))?.state === 'completed';
      },
      () => `not completed: ${JSON.stringify(tasks)}`,
      15_000,
    );

    // The commands are at the providers; the devices have not synced yet.
    expect((await sandboxControl<Array<{ status: string }>>(google, `/users/${login}/devices`)).map((d) => d.status)).toEqual([
      'ACCOUNT_WIPING',
    ]);
    const enrolled = await sandboxControl<
      Array<{ id: string; operatingSystem: string; managementState: string; entraDevice: { accountEnabled: boolean } }>
    >(microsoft, `/users/${entra.id}/devices`);
    expect(enrolled.map((d) => [d.operatingSystem, d.managementState, d.entraDevice.accountEnabled])).toEqual([
      ['iOS', 'retirePending', true],
      ['Windows', 'retirePending', false],
    ]);
    const before = await evidence(termination.id);
    const wipes = before.tasks.filter((t) => t.action === 'wipe_devices');
    expect(wipes.map((t) => [t.step, t.state, t.proof.kind])).toEqual(
      expect.arrayContaining([
        ['google-wipe-devices', 'succeeded', 'requested'],
        ['microsoft-wipe-devices', 'succeeded', 'requested'],
      ]),
    );
    expect(wipes.every((t) => t.acknowledged === null)).toBe(true);
    expect(before.summary.requested).toBe(2);

    // The phones (and the laptop) check in and carry the commands out.
    await sandboxControl(google, `/devices/${pixel.resourceId}/sync`, {});
    for (const d of enrolled) await sandboxControl(microsoft, `/managed-devices/${d.id}/sync`, {});

    expect(await daemon.store.requestReverification(termination.id, 'admin:ops')).toHaveLength(4);
    await pollUntil(
      async () =>
        (await daemon.store.listReverifications(termination.id)).filter((r) => r.reason === 'on_demand').every((r) => r.state === 'done'),
      () => 'the on-demand re-verifications did not finish',
      15_000,
    );

    const after = await evidence(termination.id);
    const google_ = after.tasks.find((t) => t.step === 'google-wipe-devices')!;
    const microsoft_ = after.tasks.find((t) => t.step === 'microsoft-wipe-devices')!;
    expect(google_.acknowledged?.readBack).toMatchObject({
      devices: [{ resourceId: pixel.resourceId, status: 'ACCOUNT_WIPED' }],
      devicesPending: 0,
    });
    expect(google_.proof.label).toMatch(
      /^requested at \S+, acknowledged by the device at \S+ \(re-verification\): action=admin_account_wipe/,
    );
    // Retired devices leave Intune management: none is listed any more.
    expect(microsoft_.acknowledged?.readBack).toEqual({ command: 'retire', managedDevices: [], entraDevices: [] });
    expect(microsoft_.proof.label).toMatch(/acknowledged by the device at \S+ \(re-verification\): command=retire, managedDevices=\[\]/);
  }, 45_000);
});
