/**
 * Runs provider sandboxes (Okta, Google, Microsoft emulators) in a process of their own,
 * so several daemons (replicas, a benchmark's workers) can share one set of providers and
 * their write counters, and a daemon killed mid-run does not take its providers with it.
 *
 *   node --import tsx scripts/sandboxes.ts [--kinds okta,google,microsoft]   (scim, brivo, caep, slack, github, aws, rest, stripe and email on request)
 *        [--port okta=7001] [--port microsoft=7002] [--no-auto-provision]
 *
 * Prints ONE line of JSON on stdout once every sandbox listens:
 *
 *   {"sandboxes":{"okta":{"kind":"okta","url":"http://127.0.0.1:7001","settings":{"orgUrl":...,"token":...}}, ...}}
 *
 * `settings` is the provider block a daemon config needs to reach that sandbox as a real
 * provider (the module's `sandboxConfig()`: URLs and the sandbox's fixed, non-secret
 * credentials; for caep, the signing key the receiver made as it started and trusts).
 * Each sandbox keeps its control API under `/__sandbox` (GET /state for the write
 * counters, POST /faults, POST /reset, and its own extra routes).
 *
 * Stops on SIGTERM/SIGINT, and when stdin closes: a parent that spawned it with a pipe on
 * stdin and dies (even by SIGKILL) leaves no orphan. Only 127.0.0.1 is listened on.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { googleModule } from '../providers/google/index.ts';
import { startGoogleSandbox } from '../providers/google/sandbox.ts';
import { microsoftModule } from '../providers/microsoft/index.ts';
import { startMicrosoftSandbox } from '../providers/microsoft/sandbox.ts';
import type { ProviderModule } from '../providers/module.ts';
import { oktaModule } from '../providers/okta/index.ts';
import { startOktaSandbox } from '../providers/okta/sandbox.ts';
import { brivoModule } from '../providers/brivo/index.ts';
import { startBrivoSandbox } from '../providers/brivo/sandbox.ts';
import { caepModule } from '../providers/caep/index.ts';
import { startCaepSandbox } from '../providers/caep/sandbox.ts';
import { scimModule } from '../providers/scim/index.ts';
import { startScimSandbox } from '../providers/scim/sandbox.ts';
import { githubModule } from '../providers/github/index.ts';
import { startGitHubSandbox } from '../providers/github/sandbox.ts';
import { slackModule } from '../providers/slack/index.ts';
import { startSlackSandbox } from '../providers/slack/sandbox.ts';
import { awsModule } from '../providers/aws/index.ts';
import { startAwsSandbox } from '../providers/aws/sandbox.ts';
import { restModule } from '../providers/rest/index.ts';
import { startInhouseSandbox } from '../providers/rest/sandbox.ts';
import { stripeModule } from '../providers/stripe/index.ts';
import { startStripeSandbox } from '../providers/stripe/sandbox.ts';
import { emailModule } from '../providers/email/index.ts';
import { startEmailSandbox } from '../providers/email/sandbox.ts';
import type { RunningSandbox, SandboxOptions } from '../providers/sandbox/kit.ts';

/** The identity providers: started when --kinds is not given. */
export const SANDBOX_KINDS = ['okta', 'google', 'microsoft'] as const;
/** Every kind --kinds accepts: the identity providers, a SCIM app target, Brivo (badges), a CAEP receiver, Slack, GitHub, AWS IAM an in-house app (rest), Stripe (billing) and an SMTP relay (email). */
export const ALL_SANDBOX_KINDS = [...SANDBOX_KINDS, 'scim', 'brivo', 'caep', 'slack', 'github', 'aws', 'rest', 'stripe', 'email'] as const;
export type SandboxKind = (typeof ALL_SANDBOX_KINDS)[number];

export interface SandboxInfo {
  kind: SandboxKind;
  url: string;
  /** The provider settings (without `kind`) that point a daemon at this sandbox. */
  settings: Record<string, unknown>;
}

export interface StartedSandboxes {
  sandboxes: Partial<Record<SandboxKind, SandboxInfo>>;
  running: Map<SandboxKind, RunningSandbox>;
  close(): Promise<void>;
}

// Each module's settings type is its own: no static type spans them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyProviderModule = ProviderModule<any>;

const starters: Record<SandboxKind, { module: AnyProviderModule; start(options: SandboxOptions, port?: number): Promise<RunningSandbox> }> =
  {
    okta: { module: oktaModule, start: (options, port) => startOktaSandbox({ ...options, port }) },
    microsoft: { module: microsoftModule, start: (options, port) => startMicrosoftSandbox(options, { port }) },
    google: {
      module: googleModule,
      start: (options, port) => {
        if (port !== undefined) throw new Error('the Google sandbox listens on a random port only; drop --port google=...');
        return startGoogleSandbox(options);
      },
    },
    scim: { module: scimModule, start: (options, port) => startScimSandbox({ ...options, port }) },
    brivo: { module: brivoModule, start: (options, port) => startBrivoSandbox({ ...options, port }) },
    caep: { module: caepModule, start: (options, port) => startCaepSandbox({ ...options, port }) },
    slack: { module: slackModule, start: (options, port) => startSlackSandbox({ ...options, port }) },
    github: { module: githubModule, start: (options, port) => startGitHubSandbox({ ...options, port }) },
    aws: { module: awsModule, start: (options, port) => startAwsSandbox({ ...options, port }) },
    rest: { module: restModule, start: (options, port) => startInhouseSandbox({ ...options, port }) },
    stripe: { module: stripeModule, start: (options, port) => startStripeSandbox({ ...options, port }) },
    email: { module: emailModule, start: (options, port) => startEmailSandbox({ ...options, port }) },
  };

/** Starts the given sandboxes in this process; `close()` stops them all. */
export async function startSandboxes(
  kinds: readonly SandboxKind[],
  options: SandboxOptions & { ports?: Partial<Record<SandboxKind, number>> } = {},
): Promise<StartedSandboxes> {
  const running = new Map<SandboxKind, RunningSandbox>();
  const close = async () => {
    await Promise.allSettled([...running.values()].map((s) => s.close()));
  };
  const sandboxes: Partial<Record<SandboxKind, SandboxInfo>> = {};
  try {
    for (const kind of kinds) {
      const starter = starters[kind];
      const sandbox = await starter.start({ autoProvision: options.autoProvision, faults: options.faults }, options.ports?.[kind]);
      running.set(kind, sandbox);
      sandboxes[kind] = { kind, url: sandbox.url, settings: { ...(starter.module.sandboxConfig(sandbox) as Record<string, unknown>) } };
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { sandboxes, running, close };
}

function parseCommandLine(argv: string[]): { kinds: SandboxKind[]; ports: Partial<Record<SandboxKind, number>>; autoProvision: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      kinds: { type: 'string', default: SANDBOX_KINDS.join(',') },
      port: { type: 'string', multiple: true, default: [] },
      'no-auto-provision': { type: 'boolean', default: false },
    },
  });
  const isKind = (k: string): k is SandboxKind => (ALL_SANDBOX_KINDS as readonly string[]).includes(k);
  const kinds = values.kinds
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  const unknown = kinds.filter((k) => !isKind(k));
  if (unknown.length > 0 || kinds.length === 0) throw new Error(`--kinds: expected some of ${ALL_SANDBOX_KINDS.join(', ')}`);
  const ports: Partial<Record<SandboxKind, number>> = {};
  for (const entry of values.port) {
    const [kind = '', port = ''] = entry.split('=');
    const n = Number(port);
    if (!isKind(kind) || !Number.isInteger(n) || n <= 0 || n > 65_535) throw new Error(`--port ${entry}: expected KIND=PORT`);
    ports[kind] = n;
  }
  return { kinds: kinds.filter(isKind), ports, autoProvision: !values['no-auto-provision'] };
}

async function main(): Promise<void> {
  const args = parseCommandLine(process.argv.slice(2));
  const started = await startSandboxes(args.kinds, { autoProvision: args.autoProvision, ports: args.ports });
  process.stdout.write(`${JSON.stringify({ sandboxes: started.sandboxes })}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void started.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // The parent's end of stdin closes when it exits, however it exits.
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`sandboxes: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
