/**
 * Revoked stays revoked (issue 30) across the estate: for each provider family that
 * tests/drift.test.ts (Okta) does not cover (Google, Microsoft, AWS IAM, the SCIM app, Slack,
 * GitHub, Brivo, LDAP), through the whole daemon, one termination
 * completes, the access comes back at the provider behind our back (the sandbox's control
 * API, or a direct LDAP modify), and an on-demand re-verification finds it: a `drift` row,
 * `deprovisiond_drift_total{provider,action}`, the security channel told, the step run
 * again (`reverify: { remediate: true }`) so the provider shows it revoked once more, and
 * the evidence document counting the drift. LDAP runs against the emulated directory and,
 * where slapd is installed (CI), against a real slapd.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsModule } from '../providers/aws/index.ts';
import { brivoModule } from '../providers/brivo/index.ts';
import type { AccountRef } from '../providers/contract.ts';
import { githubModule } from '../providers/github/index.ts';
import { googleModule } from '../providers/google/index.ts';
import { ldapConfigSchema, ldapModule, type LdapConfig } from '../providers/ldap/index.ts';
import { values } from '../providers/ldap/session.ts';
import { microsoftModule } from '../providers/microsoft/index.ts';
import type { ProviderModule } from '../providers/module.ts';
import { notifyModule } from '../providers/notify/index.ts';
import type { ReceivedMessage } from '../providers/notify/sandbox.ts';
import { scimModule } from '../providers/scim/index.ts';
import { slackModule } from '../providers/slack/index.ts';
import { configSchema } from '../src/config/schema.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import type { Reverification } from '../src/domain/reverify.ts';
import type { ActionName, JsonObject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { accountEntry, reEnableAccount } from './helpers/ldap-drift.ts';
import { pollUntil } from './helpers/poll.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';
import {
  addPerson,
  SLAPD_BASE,
  SLAPD_SERVICE_DN,
  SLAPD_SERVICE_PASSWORD,
  slapdAvailable,
  startSlapd,
  type Slapd,
} from './helpers/slapd.ts';
import { inlineAttemptsIn } from './helpers/test-module.ts';

const TOKEN = 'operator-token-drift-estate-01';

/** One provider family's drift: how to undo its action and how to see it revoked, both at the provider itself. */
interface DriftCase {
  /** The provider's name in the config (also its metric label). */
  provider: string;
  action: ActionName;
  /** The leaver, as the directory has them (their login and emails). */
  login: string;
  externalId?: string;
  /** Access back, behind the daemon's back. */
  undo(account: AccountRef): Promise<void>;
  /** Part of what the drifted read-back observed. */
  observed: JsonObject;
  /** The provider's own state: revoked again? */
  revoked(account: AccountRef): Promise<boolean>;
}

interface Estate {
  daemon: Daemon;
  messages: ReceivedMessage[];
}

/** A daemon with one remediating playbook per case, named after its provider, and a security channel. */
async function startEstate(dir: string, cases: DriftCase[], settingsOf: (c: DriftCase) => JsonObject): Promise<Estate> {
  const providers = Object.fromEntries(cases.map((c) => [c.provider, settingsOf(c)]));
  const playbooks = Object.fromEntries(
    cases.map((c) => [
      c.provider,
      {
        steps: [{ id: 'cut', provider: c.provider, action: c.action }],
        onFailure: { provider: 'security' },
        reverify: { remediate: true },
      },
    ]),
  );
  const config = configSchema.parse({
    server: { port: 0 },
    store: { sqlite: { path: join(dir, 'store.db') } },
    auth: { admin: [{ name: 'ops', token: TOKEN, role: 'operator' }], publicMetrics: true },
    engine: { retry: { maxAttempts: 2, baseDelay: '10ms', maxDelay: '50ms' } },
    // Due at once after completion and looked for often: the test waits for states, not for hours.
    reverify: { offsets: ['1ms'], pollInterval: '50ms' },
    providers: { ...providers, security: { kind: 'notify', sandbox: {} } },
    playbooks,
    defaultPlaybook: cases[0]!.provider,
  });
  const modules = [
    scimModule,
    slackModule,
    githubModule,
    brivoModule,
    ldapModule,
    googleModule,
    microsoftModule,
    awsModule,
    notifyModule,
  ] as ProviderModule[];
  const daemon = await startDaemon(inlineAttemptsIn(config), {
    configFile: 'drift-estate.yaml',
    logger: silentLogger(),
    modules: new Map(modules.map((m) => [m.kind, m])),
  });
  const messages = (daemon.sandboxes.get('security') as unknown as { messages: ReceivedMessage[] }).messages;
  return { daemon, messages };
}

async function driftCounted(daemon: Daemon, provider: string, action: string): Promise<number | null> {
  const text = await (await fetch(`${daemon.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`deprovisiond_drift_total{provider="${provider}",action="${action}"}`));
  return line === undefined ? null : Number(line.split(' ').at(-1));
}

async function settled(daemon: Daemon, terminationId: string, done: (rows: Reverification[]) => boolean, what: string) {
  let rows: Reverification[] = [];
  await pollUntil(
    async () => done((rows = await daemon.store.listReverifications(terminationId))),
    () => `${what}: ${JSON.stringify(rows.map((r) => [r.reason, r.state, r.outcome]))}`,
    15_000,
  );
  return rows;
}

/** Complete, undo at the provider, re-verify on demand, and check every trace the drift must leave. */
async function driftIsFoundAndRemediated({ daemon, messages }: Estate, c: DriftCase): Promise<void> {
  const { termination } = await daemon.terminations.submit({
    source: 'admin',
    subject: { userName: c.login, emails: [c.login], ...(c.externalId ? { externalId: c.externalId } : {}) },
    playbook: c.provider,
    actor: 'admin:ops',
  });
  await pollUntil(
    async () => (await daemon.store.getTermination(termination.id))?.state === 'completed',
    () => 'the termination did not complete',
    15_000,
  );
  const [first] = await settled(daemon, termination.id, (rows) => rows.length === 1 && rows[0]!.state === 'done', 'first round');
  expect(first).toMatchObject({ reason: 'scheduled', outcome: 'held', action: c.action });
  const [task] = await daemon.store.listTasks(termination.id);
  const account = task!.account as AccountRef;
  expect(account.id, 'the task keeps the account it acted on').toBeTypeOf('string');
  expect(await c.revoked(account), 'revoked at the provider after completion').toBe(true);

  await c.undo(account);
  expect(await c.revoked(account), 'the undo brought access back').toBe(false);
  expect(await daemon.store.requestReverification(termination.id, 'admin:ops')).toHaveLength(1);

  const rows = await settled(
    daemon,
    termination.id,
    (all) =>
      all.some((r) => r.outcome === 'drift') &&
      all.filter((r) => r.reason === 'scheduled').every((r) => r.state === 'done') &&
      all.length >= 3,
    'drift, remediation and the next round',
  );
  const drift = rows.find((r) => r.outcome === 'drift')!;
  expect(drift).toMatchObject({ reason: 'on_demand', action: c.action });
  expect(drift.evidence).toMatchObject({ observed: c.observed, remediation: true });
  // Remediated: the step ran again and the fresh round after it holds.
  expect(rows.at(-1)).toMatchObject({ reason: 'scheduled', outcome: 'held' });
  expect((await daemon.store.getTermination(termination.id))?.state).toBe('completed');
  expect(await c.revoked(account), 'revoked again at the provider').toBe(true);

  await pollUntil(
    async () => (await driftCounted(daemon, c.provider, c.action)) === 1,
    () => 'the drift was not counted',
    5_000,
  );

  const res = await fetch(`${daemon.url}/admin/v1/terminations/${termination.id}/evidence`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const doc = (await res.json()) as { tasks: Array<{ step: string; reverified: { lastOutcome: string; drifts: number } }> };
  expect(doc.tasks.find((t) => t.step === 'cut')?.reverified).toMatchObject({ lastOutcome: 'held', drifts: 1 });

  const told = () =>
    messages.find((m) => {
      const body = m.body as { type?: unknown; terminationId?: unknown };
      return body.type === 'deprovisiond.termination.drift' && body.terminationId === termination.id;
    });
  await pollUntil(
    () => Promise.resolve(told() !== undefined),
    () => 'no drift notification reached the security channel',
    10_000,
  );
  expect(told()!.body).toMatchObject({ driftStep: 'cut', observed: c.observed });
}

/** An LDAP case: the account re-enabled by a direct modify, and its state read on a connection of our own. */
function ldapCase(provider: string, login: string, config: () => LdapConfig, observed: JsonObject): DriftCase {
  return {
    provider,
    action: 'disable_account',
    login,
    undo: (account) => reEnableAccount(config(), account),
    observed,
    async revoked(account) {
      const c = config();
      if (c.flavor === 'active_directory') {
        const entry = await accountEntry(c, account, ['userAccountControl']);
        return (Number(values(entry, 'userAccountControl')[0]) & 2) !== 0;
      }
      const entry = await accountEntry(c, account, [c.disable.lockAttribute]);
      return values(entry, c.disable.lockAttribute).includes(c.disable.lockValue);
    },
  };
}

describe('drift across the estate: Google, Microsoft, AWS IAM, SCIM app, Slack, GitHub, Brivo and an emulated directory', () => {
  let dir: string;
  let estate: Estate;
  const url = (name: string) => estate.daemon.sandboxes.get(name)!.url;

  const cases: DriftCase[] = [
    {
      provider: 'google',
      action: 'disable_account',
      login: 'drift-google@example.com',
      // An admin unsuspends the user in the console.
      undo: (account) => sandboxControl(url('google'), `/users/${account.id}/unsuspend`, {}),
      observed: { suspended: false },
      revoked: async (account) => (await sandboxControl<{ suspended: boolean }>(url('google'), `/users/${account.id}`)).suspended,
    },
    {
      provider: 'microsoft',
      action: 'disable_account',
      login: 'drift-microsoft@example.com',
      // An on-premises sync turns the account back on.
      undo: (account) => sandboxControl(url('microsoft'), `/users/${account.id}/enable`, {}),
      observed: { accountEnabled: true },
      revoked: async (account) =>
        !(await sandboxControl<{ accountEnabled: boolean }>(url('microsoft'), `/users/${account.id}`)).accountEnabled,
    },
    {
      provider: 'aws',
      action: 'revoke_credentials',
      login: 'drift-aws@example.com',
      // Someone issues the user a fresh access key.
      undo: (account) => sandboxControl(url('aws'), `/users/${account.id}/access-keys`, {}),
      observed: { accessKeys: 1, loginProfile: false },
      async revoked(account) {
        const user = await sandboxControl<{ accessKeys: unknown[]; loginProfile: boolean }>(url('aws'), `/users/${account.id}`);
        return user.accessKeys.length === 0 && !user.loginProfile;
      },
    },
    {
      provider: 'scim',
      action: 'disable_account',
      login: 'drift-scim@example.com',
      undo: (account) => sandboxControl(url('scim'), `/users/${account.id}/reactivate`, {}),
      observed: { active: true },
      revoked: async (account) => !(await sandboxControl<{ active: boolean }>(url('scim'), `/users/${account.id}`)).active,
    },
    {
      provider: 'slack',
      action: 'disable_account',
      login: 'drift-slack@example.com',
      undo: (account) => sandboxControl(url('slack'), `/users/${account.id}/reactivate`, {}),
      observed: { scimActive: true },
      revoked: async (account) => (await sandboxControl<{ deleted: boolean }>(url('slack'), `/users/${account.id}`)).deleted,
    },
    {
      provider: 'github',
      action: 'disable_account',
      login: 'drift-github@example.com',
      undo: (account) => sandboxControl(url('github'), `/users/${account.id}/membership`, {}),
      observed: { membership: { state: 'active', role: 'member' } },
      revoked: async (account) =>
        (await sandboxControl<{ membership: unknown }>(url('github'), `/users/${account.id}`)).membership === null,
    },
    {
      provider: 'brivo',
      action: 'deactivate_badge',
      login: 'drift-brivo@example.com',
      externalId: 'HR-DRIFT-BRIVO',
      // A card handed back: the suspension alone would not show it.
      undo: (account) => sandboxControl(url('brivo'), `/users/${account.id}/credentials`, { format: 'HID 26 bit Card' }),
      observed: { suspended: true, remainingCredentials: [expect.objectContaining({ format: 'HID 26 bit Card' })] },
      async revoked(account) {
        const user = await sandboxControl<{ suspended: boolean; credentials: unknown[] }>(url('brivo'), `/users/${account.id}`);
        return user.suspended && user.credentials.length === 0;
      },
    },
    ldapCase(
      'ldap',
      'drift-ldap@example.com',
      () => ldapConfigSchema.parse(ldapModule.sandboxConfig(estate.daemon.sandboxes.get('ldap')!)),
      {
        userAccountControl: '512',
      },
    ),
  ];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-drift-estate-'));
    estate = await startEstate(dir, cases, (c) => ({ kind: c.provider, sandbox: { autoProvision: true } }));
  });
  afterAll(async () => {
    await estate?.daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const c of cases) {
    it(`${c.provider} ${c.action}: drift found on demand, counted, told, remediated and in the evidence`, () =>
      driftIsFoundAndRemediated(estate, c));
  }
});

describe.skipIf(!slapdAvailable())('drift in a real OpenLDAP slapd', () => {
  let dir: string;
  let slapd: Slapd;
  let admin: Client;
  let estate: Estate;
  let config: LdapConfig;
  const settings = () => ({
    url: slapd.url,
    tls: { startTls: true, ca: slapd.ca },
    bindDn: SLAPD_SERVICE_DN,
    bindPassword: SLAPD_SERVICE_PASSWORD,
    baseDn: `ou=people,${SLAPD_BASE}`,
    groupsBaseDn: `ou=groups,${SLAPD_BASE}`,
    flavor: 'openldap' as const,
  });
  const slapdCase = ldapCase('slapd', 'drift-slapd@example.org', () => config, { pwdAccountLockedTime: '' });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-drift-slapd-'));
    slapd = await startSlapd();
    admin = await slapd.admin();
    await addPerson(admin, 'drift-slapd');
    config = ldapConfigSchema.parse(settings());
    estate = await startEstate(dir, [slapdCase], () => ({ kind: 'ldap', ...settings() }));
  }, 60_000);
  afterAll(async () => {
    await estate?.daemon.stop();
    await admin?.unbind();
    await slapd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('slapd disable_account: the lock deleted by a direct modify is found, counted, told and locked again', () =>
    driftIsFoundAndRemediated(estate, slapdCase));
});
