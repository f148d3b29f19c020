/**
 * The benchmark environment: provider sandboxes in their own process (scripts/sandboxes.ts),
 * `deprovisiond serve` in its own process on SQLite in a temp dir, configured with the
 * sandboxes as real providers (their URLs and fixed sandbox credentials, no `sandbox:`
 * blocks). Everything listens on 127.0.0.1 only.
 */
import { blindIndex, subjectIndexKey } from '../../src/privacy/crypto.ts';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { FaultConfigInput } from '../../providers/sandbox/faults.ts';
import type { RequestLogEntry } from '../../providers/sandbox/kit.ts';
import type { SandboxKind } from '../../scripts/sandboxes.ts';
import { imageEnv } from '../../tests/helpers/dockerfile.ts';
import { spawnDaemon, spawnSandboxes, type DaemonProcess, type SandboxProcess } from '../../tests/helpers/processes.ts';
import { procStatFields } from '../../tests/helpers/proc-stat.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const SCIM_TOKEN = `bench-scim-${randomBytes(12).toString('hex')}`;
export const ADMIN_TOKEN = `bench-admin-${randomBytes(12).toString('hex')}`;
export const SCIM_JSON = 'application/scim+json';
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const DEACTIVATE = JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] });

export interface Step {
  id: string;
  provider: string;
  action: string;
  params?: Record<string, unknown>;
  after?: string[];
}

/** The critical actions each kind supports: what the time-to-revoke playbook runs. */
export const CRITICAL_STEPS: Record<SandboxKind, Step[]> = {
  okta: [
    { id: 'okta-revoke', provider: 'okta', action: 'revoke_sessions' },
    { id: 'okta-suspend', provider: 'okta', action: 'disable_account', params: { mode: 'suspend' } },
  ],
  google: [
    { id: 'google-revoke', provider: 'google', action: 'revoke_sessions' },
    { id: 'google-suspend', provider: 'google', action: 'disable_account' },
  ],
  microsoft: [
    { id: 'microsoft-revoke', provider: 'microsoft', action: 'revoke_sessions' },
    { id: 'microsoft-disable', provider: 'microsoft', action: 'disable_account' },
  ],
  scim: [{ id: 'app-disable', provider: 'scim', action: 'disable_account' }],
  brivo: [{ id: 'brivo-badge', provider: 'brivo', action: 'deactivate_badge' }],
  caep: [{ id: 'caep-signal', provider: 'caep', action: 'revoke_sessions' }],
  slack: [
    { id: 'slack-revoke', provider: 'slack', action: 'revoke_sessions' },
    { id: 'slack-disable', provider: 'slack', action: 'disable_account' },
  ],
  github: [
    { id: 'github-revoke', provider: 'github', action: 'revoke_sessions' },
    { id: 'github-disable', provider: 'github', action: 'disable_account' },
  ],
  // AWS IAM has no session or sign-in switch: what cuts its access is removing the keys and the password.
  aws: [{ id: 'aws-revoke', provider: 'aws', action: 'revoke_credentials' }],
  // An in-house app: revoking its keys is not a critical action, disabling the tenant is.
  rest: [{ id: 'inhouse-disable', provider: 'rest', action: 'disable_account' }],
  // Billing ends no access: Stripe has no critical action to time.
  stripe: [],
  // Messages cut no access: the email channel has no critical action to time.
  email: [],
};

/**
 * The doors a disable leaves open (issue 32), as config/sandbox.yaml's employee playbook runs
 * them: not critical, and no critical step waits for them. `before` are listed ahead of the
 * kind's disable and race it, because they need the live account (Google's backup codes
 * and Gmail settings, the wipes) or because it is not known that the
 * provider accepts them on a disabled one (Okta's three, listed after its suspend but
 * waiting for nothing); within a provider the claim order follows the step order. The
 * `after` ones that name the disable in `after:` work as well on a disabled account, so they
 * wait for it and stay out of the cut's window. AWS IAM's door, revoke_credentials, is its
 * critical step already.
 */
export const DOOR_STEPS: Partial<Record<SandboxKind, { before: Step[]; after: Step[] }>> = {
  okta: {
    before: [],
    after: [
      { id: 'okta-remove-mfa', provider: 'okta', action: 'remove_mfa' },
      { id: 'okta-remove-admin-roles', provider: 'okta', action: 'remove_admin_roles' },
      { id: 'okta-reset-password', provider: 'okta', action: 'reset_password' },
    ],
  },
  google: {
    before: [
      { id: 'google-clear-recovery', provider: 'google', action: 'clear_recovery' },
      { id: 'google-wipe-devices', provider: 'google', action: 'wipe_devices' },
      { id: 'google-stop-forwarding', provider: 'google', action: 'stop_mail_forwarding' },
    ],
    after: [
      { id: 'google-revoke-public-links', provider: 'google', action: 'revoke_public_links', after: ['google-suspend'] },
      { id: 'google-remove-mfa', provider: 'google', action: 'remove_mfa', after: ['google-suspend'] },
      { id: 'google-remove-admin-roles', provider: 'google', action: 'remove_admin_roles', after: ['google-suspend'] },
      { id: 'google-reset-password', provider: 'google', action: 'reset_password', after: ['google-suspend'] },
    ],
  },
  microsoft: {
    before: [{ id: 'microsoft-wipe-devices', provider: 'microsoft', action: 'wipe_devices' }],
    after: [
      { id: 'microsoft-revoke-public-links', provider: 'microsoft', action: 'revoke_public_links', after: ['microsoft-disable'] },
      { id: 'microsoft-remove-mfa', provider: 'microsoft', action: 'remove_mfa', after: ['microsoft-disable'] },
      { id: 'microsoft-stop-forwarding', provider: 'microsoft', action: 'stop_mail_forwarding', after: ['microsoft-disable'] },
      { id: 'microsoft-remove-admin-roles', provider: 'microsoft', action: 'remove_admin_roles', after: ['microsoft-disable'] },
      { id: 'microsoft-reset-password', provider: 'microsoft', action: 'reset_password', after: ['microsoft-disable'] },
    ],
  },
};

/** The bench playbook: each kind's critical steps, with its door steps around its last (the disable) when `doors`. */
export function benchSteps(kinds: readonly SandboxKind[], doors = false): Step[] {
  return kinds.flatMap((kind) => {
    const critical = CRITICAL_STEPS[kind];
    const around = doors ? DOOR_STEPS[kind] : undefined;
    if (!around || critical.length === 0) return critical;
    return [...critical.slice(0, -1), ...around.before, critical.at(-1)!, ...around.after];
  });
}

export interface Limits {
  concurrency?: number;
  tasksPerSecond?: number;
  requestsPerSecond?: number;
}

export interface EnvOptions {
  kinds: SandboxKind[];
  faults: Partial<Record<SandboxKind, FaultConfigInput>>;
  limits?: Partial<Record<SandboxKind, Limits>>;
  steps?: Step[];
  logLevel?: string;
  /** Extra environment for the daemon process (e.g. NODE_OPTIONS=--cpu-prof to profile it). */
  daemonEnv?: NodeJS.ProcessEnv;
  /** Runs after the config is written and before the daemon starts (e.g. to seed the store). */
  beforeDaemon?: (dbPath: string) => Promise<void>;
  /** The config's `reverify` block (default: the daemon's defaults). */
  reverify?: Record<string, unknown>;
  /** The bench's admin token's role: `operator` for scenarios that ask the admin API for work. Default viewer. */
  adminRole?: 'viewer' | 'operator';
}

export interface BenchEnv {
  dir: string;
  dbPath: string;
  sandboxes: SandboxProcess;
  daemon: DaemonProcess;
  kinds: SandboxKind[];
  sandboxUrl(kind: SandboxKind): string;
  scim(method: string, path: string, body?: string): Promise<{ status: number; json: any }>;
  admin(path: string): Promise<any>;
  /** POST to the admin API (needs `adminRole: 'operator'` for operator routes); throws unless 2xx. */
  adminPost(path: string, body: unknown): Promise<any>;
  sandboxRequests(kind: SandboxKind): Promise<RequestLogEntry[]>;
  sandboxState(kind: SandboxKind): Promise<{ requests: number; writes: Record<string, number> }>;
  resetSandboxes(): Promise<void>;
  /** The store, read-only, from this process (WAL: readers never block the daemon's writer). */
  readStore(): Database.Database;
  /** What the store files a subject key under (a blind index: docs/privacy.md), to look a termination up in `readStore()`. */
  subjectIndex(subjectKey: string): string;
  stop(): Promise<void>;
}

/** The bench daemon's master key: fixed, so the bench can find its terminations by their blind indexes. */
const BENCH_MASTER_KEY = Buffer.alloc(32, 0x42);

export async function startEnv(options: EnvOptions): Promise<BenchEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-bench-'));
  const dbPath = join(dir, 'store.db');
  let sandboxes: SandboxProcess | null = null;
  let daemon: DaemonProcess | null = null;
  let reader: Database.Database | null = null;
  const stop = async () => {
    reader?.close();
    reader = null;
    await daemon?.stop('SIGTERM', 15_000);
    await sandboxes?.stop('SIGTERM', 5_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    sandboxes = await spawnSandboxes(['--kinds', options.kinds.join(',')]);
    const started = sandboxes;
    const url = (kind: SandboxKind) => {
      const info = started.sandboxes[kind];
      if (!info) throw new Error(`no ${kind} sandbox`);
      return info.url;
    };
    await Promise.all(options.kinds.map((kind) => postJson(`${url(kind)}/__sandbox/faults`, options.faults[kind] ?? {})));
    const providers: Record<string, unknown> = {};
    for (const kind of options.kinds) {
      providers[kind] = { kind, ...started.sandboxes[kind]!.settings, limits: { concurrency: 8, ...options.limits?.[kind] } };
    }
    const steps = options.steps ?? benchSteps(options.kinds);
    const config = {
      server: { host: '127.0.0.1', port: 0, bodyLimit: '256kb' },
      store: { sqlite: { path: dbPath } },
      privacy: { masterKey: BENCH_MASTER_KEY.toString('base64') },
      auth: { admin: [{ name: 'bench', token: ADMIN_TOKEN, role: options.adminRole ?? 'viewer' }], scim: [SCIM_TOKEN] },
      providers,
      playbooks: { bench: { steps } },
      defaultPlaybook: 'bench',
      ...(options.reverify ? { reverify: options.reverify } : {}),
      // Attempts on the daemon's thread instead of the worker, or the worker at a lower
      // priority: each compares the two on one commit.
      engine: {
        ...(process.env.BENCH_PROVIDER_THREAD === 'false' ? { providerThread: false } : {}),
        ...(process.env.BENCH_PROVIDER_THREAD_NICE ? { providerThreadNice: Number(process.env.BENCH_PROVIDER_THREAD_NICE) } : {}),
      },
    };
    const file = join(dir, 'config.yaml');
    // JSON is YAML: the daemon reads it as its config file.
    writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
    await options.beforeDaemon?.(dbPath);
    // The Node options the image ships (the heap cap), then any given for profiling.
    const nodeOptions = [imageEnv(ROOT).NODE_OPTIONS, process.env.BENCH_DAEMON_NODE_OPTIONS].filter(Boolean).join(' ');
    daemon = await spawnDaemon(file, {
      LOG_LEVEL: options.logLevel ?? 'info',
      ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
      ...options.daemonEnv,
    });
    const d = daemon;

    return {
      dir,
      dbPath,
      sandboxes: started,
      daemon: d,
      kinds: options.kinds,
      sandboxUrl: url,
      async scim(method, path, body) {
        const response = await fetch(`${d.url}/scim/v2${path}`, {
          method,
          headers: { authorization: `Bearer ${SCIM_TOKEN}`, accept: SCIM_JSON, ...(body ? { 'content-type': SCIM_JSON } : {}) },
          body,
          signal: AbortSignal.timeout(60_000),
        });
        const text = await response.text();
        return { status: response.status, json: text ? JSON.parse(text) : null };
      },
      async admin(path) {
        const response = await fetch(`${d.url}/admin/v1${path}`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
          signal: AbortSignal.timeout(30_000),
        });
        if (!response.ok) throw new Error(`GET /admin/v1${path}: ${response.status} ${await response.text()}`);
        return response.json();
      },
      async adminPost(path, body) {
        const response = await fetch(`${d.url}/admin/v1${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(60_000),
        });
        if (!response.ok) throw new Error(`POST /admin/v1${path}: ${response.status} ${await response.text()}`);
        return response.json();
      },
      async sandboxRequests(kind) {
        const response = await fetch(`${url(kind)}/__sandbox/requests`, { signal: AbortSignal.timeout(60_000) });
        return (await response.json()) as RequestLogEntry[];
      },
      async sandboxState(kind) {
        const response = await fetch(`${url(kind)}/__sandbox/state`, { signal: AbortSignal.timeout(60_000) });
        return (await response.json()) as { requests: number; writes: Record<string, number> };
      },
      async resetSandboxes() {
        await Promise.all(options.kinds.map((kind) => fetch(`${url(kind)}/__sandbox/reset`, { method: 'POST' }).then((r) => r.text())));
      },
      readStore() {
        reader ??= new Database(dbPath, { readonly: true, fileMustExist: true });
        return reader;
      },
      subjectIndex: (subjectKey) => blindIndex(subjectIndexKey(BENCH_MASTER_KEY), subjectKey),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function postJson(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${await response.text()}`);
}

/** A SCIM user body for bench user `n` of run `run`. */
export function userBody(run: string, n: number): string {
  const login = `bench.${run}.${n}@example.com`;
  return JSON.stringify({
    schemas: [USER_SCHEMA],
    userName: login,
    externalId: `bench-${run}-${n}`,
    name: { givenName: 'Bench', familyName: `User${n}` },
    emails: [{ primary: true, value: login, type: 'work' }],
    displayName: `Bench User ${n}`,
    active: true,
  });
}

/** Runs `work(i)` for i in [0, count) with at most `concurrency` in flight. */
export async function pool<T>(count: number, concurrency: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      results[i] = await work(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

// ---- process figures (Linux /proc) ----

let clockTicks: number | null = null;
function ticksPerSecond(): number {
  if (clockTicks === null) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const fields = procStatFields(`/proc/${pid}/stat`);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / ticksPerSecond();
}

/** Peak (VmHWM) and current (VmRSS) resident set size, in MB. */
export function memoryMb(pid: number): { peakRssMb: number; rssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peakRssMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
}

// ---- statistics ----

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const round = (value: number, digits = 2) => Number(value.toFixed(digits));
