/**
 * `npm run demo`: the main job on the embedded default. Starts the daemon on SQLite in a
 * temp dir with the sandbox providers, submits one termination through the same service
 * intake uses, prints progress by step while tasks run, then one line of proof per task,
 * where the printable evidence page was written, the time to revoke, and a summary by kind
 * of proof. Exits 0 only if every task succeeded. With `customer`, the subject is a client
 * organization whose people the sandboxes are seeded with (the `customer` playbook).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from './config/load.ts';
import { startDaemon } from './daemon.ts';
import type { Subject, Task } from './domain/types.ts';
import { proofOf } from './audit/proof.ts';
import { createLogger } from './telemetry/logger.ts';

const DEFAULT_CONFIG = resolve(dirname(fileURLToPath(import.meta.url)), '../config/sandbox.yaml');
const TERMINAL = new Set(['succeeded', 'failed', 'skipped', 'cancelled']);

/** The client of `demo --customer`: its people at Okta (by domain) and at the SCIM app (by organization value). */
const CUSTOMER: Subject = {
  externalId: 'CUST-1042',
  emails: [],
  displayName: 'Initech',
  organization: {
    id: 'CUST-1042',
    name: 'Initech',
    domains: ['initech.example'],
    tenants: { scim: 'Initech' },
    contacts: ['it@initech.example', 'finance@initech.example'],
  },
};
const CUSTOMER_MEMBERS = 25;

export async function runDemo(options: {
  configFile?: string | undefined;
  customer?: boolean;
  out?: NodeJS.WritableStream;
}): Promise<number> {
  const out = options.out ?? process.stdout;
  const print = (line = '') => out.write(`${line}\n`);
  const configFile = options.configFile ?? DEFAULT_CONFIG;
  const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-demo-'));
  // The demo brings its own credentials for the sandbox-only endpoints it does not use.
  const config = loadConfig(configFile, {
    ADMIN_TOKEN: 'demo-admin-token-0000',
    SCIM_TOKEN: 'demo-scim-token-00000',
    WEBHOOK_SECRET: 'whsec_ZGVtby13ZWJob29rLXNlY3JldA==',
    ...process.env,
  });
  config.store = { sqlite: { path: join(dir, 'deprovisiond.db') } };
  config.server = { ...config.server, host: '127.0.0.1', port: 0 };
  const daemon = await startDaemon(config, { configFile, logger: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }) });
  const t0 = Date.now();
  const stamp = () => `+${((Date.now() - t0) / 1000).toFixed(3)}s`.padStart(9);
  try {
    print(`deprovisiond demo: store ${join(dir, 'deprovisiond.db')}`);
    for (const [name, sandbox] of daemon.sandboxes) print(`  sandbox ${name.padEnd(10)} ${sandbox.url}`);
    const subject: Subject = options.customer
      ? CUSTOMER
      : {
          externalId: 'E-1001',
          userName: 'ada.lovelace@example.com',
          emails: ['ada.lovelace@example.com'],
          displayName: 'Ada Lovelace',
          manager: { email: 'charles.babbage@example.com', userName: 'charles.babbage@example.com' },
        };
    if (options.customer) await seedCustomer(daemon, print);
    // Step names come from the store once the termination exists; an event seen before that names provider and action.
    const steps = new Map<string, string>();
    const line = (e: { taskId: string; provider: string; action: string }) =>
      `${(steps.get(e.taskId) ?? e.action).padEnd(26)} ${e.provider.padEnd(10)}`;
    daemon.events.on('task:started', (e) => print(`${stamp()}  ${line(e)} running (attempt ${e.attempt})`));
    daemon.events.on('task:finished', (e) => {
      const detail = e.state === 'pending' ? `back in queue (${String(e.retry)}${e.errorKind ? `: ${e.errorKind}` : ''})` : e.state;
      print(`${stamp()}  ${line(e)} ${detail}`);
    });
    const { termination } = await daemon.terminations.submit({
      source: 'admin',
      subject,
      reason: options.customer ? 'demo: the client ended its contract' : 'demo: last day',
      ...(options.customer ? { playbook: 'customer' } : {}),
      actor: 'demo',
    });
    const tasks = await daemon.store.listTasks(termination.id);
    for (const task of tasks) steps.set(task.id, task.stepId);
    print(`${stamp()}  termination ${termination.id} for ${termination.subjectKey}: ${tasks.length} tasks`);
    for (const task of tasks) {
      const wait = task.notBefore.getTime() - termination.effectiveAt.getTime();
      print(
        `             ${task.stepId.padEnd(22)} ${task.provider}.${task.action}${task.dependsOn.length ? ` after ${task.dependsOn.join(', ')}` : ''}${wait > 0 ? `, not before +${wait / 1000}s (retention)` : ''}`,
      );
    }
    // The manual step is a person's: the demo plays that person through the admin API, once the machines are done.
    const operator = config.auth.admin.find((a) => a.role === 'operator');
    const completeManual = async (task: Task) => {
      if (!operator) return;
      const res = await fetch(`${daemon.url}/admin/v1/terminations/${termination.id}/tasks/${task.id}/complete`, {
        method: 'POST',
        headers: { authorization: `Bearer ${operator.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          outcome: 'done',
          reason: options.customer ? 'demo: confirmed with the client in writing' : 'demo: laptop and badge collected',
        }),
      });
      print(
        `${stamp()}  ${task.stepId.padEnd(26)} ${'person'.padEnd(10)} ${res.ok ? `completed by admin:${operator.name} (admin API)` : `HTTP ${res.status}`}`,
      );
    };
    const finished = await waitForAll(daemon, termination.id, completeManual);
    const final = await daemon.store.getTermination(termination.id);
    print();
    print('evidence:');
    // A client's member tasks (`<step>/<member>/<action>`) are summed up under "client offboarding" below.
    for (const task of finished.filter((t) => !t.stepId.includes('/'))) {
      print(`  ${task.stepId.padEnd(26)} ${task.state.padEnd(10)} ${proofLine(task)}`);
    }
    // A requested wipe is proven only when the device has carried it out, which no demo run waits for: say where that proof comes from.
    const requested = finished.filter((task) => proofOf(task, []).kind === 'requested').map((task) => task.stepId);
    if (requested.length > 0) {
      print(
        `  acknowledgement to follow: ${requested.join(', ')} requested; each device carries its wipe out when it next syncs, and the first re-verification that then reads it done records the acknowledgement in the evidence (scheduled after completion, or now: deprovisiond reverify ${termination.id}; docs/operations.md). The demo's short retention has deleted the accounts already; in production the retention leaves the devices time to sync first.`,
      );
    }
    if (options.customer) await printCustomerOutcome(daemon, finished, print);
    const page = join(tmpdir(), `deprovisiond-demo-evidence-${termination.id}.html`);
    writeFileSync(page, await evidencePage(daemon.url, termination.id, operator?.token));
    print(`evidence page (printable): ${page}`);
    const ttr = final?.revokedAt ? final.revokedAt.getTime() - Math.max(final.effectiveAt.getTime(), final.requestedAt.getTime()) : null;
    print();
    print(
      `time to revoke: ${ttr === null ? 'not reached' : `${ttr} ms`} (every critical task done and read back where the provider can be read)`,
    );
    const done = finished.filter((t) => t.state === 'succeeded').length;
    // The summary says what kind of proof each task has: "verified" only for a read-back.
    const kinds = new Map<string, number>();
    for (const task of finished) {
      const kind = proofOf(task, []).kind.replaceAll('_', ' ');
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    print(
      `termination ${String(final?.state)}: ${done}/${finished.length} tasks done (${[...kinds].map(([kind, n]) => `${n} ${kind}`).join(', ')})`,
    );
    return done === finished.length ? 0 : 1;
  } finally {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One line of what proves a task, in the evidence document's words (src/audit/proof.ts). */
function proofLine(task: Task): string {
  const text = proofOf(task, []).label;
  return text.length > 90 ? `${text.slice(0, 89)}…` : text;
}

/** The termination's printable evidence, as the admin API serves it. */
async function evidencePage(url: string, terminationId: string, token: string | undefined): Promise<string> {
  const res = await fetch(`${url}/admin/v1/terminations/${terminationId}/evidence?format=html`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return res.ok ? res.text() : `<p>evidence unavailable: HTTP ${res.status}</p>`;
}

/** Waits until every task is final, woken by engine events; bounded so a stuck demo still ends. */
async function waitForAll(
  daemon: Awaited<ReturnType<typeof startDaemon>>,
  terminationId: string,
  completeManual: (task: Task) => Promise<void>,
  timeoutMs = 120_000,
): Promise<Task[]> {
  const deadline = Date.now() + timeoutMs;
  const completed = new Set<string>();
  for (;;) {
    const tasks = await daemon.store.listTasks(terminationId);
    if (tasks.every((t) => TERMINAL.has(t.state)) || tasks.some((t) => t.state === 'failed')) return tasks;
    const machinesDone = tasks.every((t) => TERMINAL.has(t.state) || t.action === 'manual' || t.action === 'delete_account');
    for (const task of tasks.filter((t) => t.action === 'manual' && t.state === 'pending' && !completed.has(t.id))) {
      if (!machinesDone) break;
      completed.add(task.id);
      await completeManual(task);
    }
    if (Date.now() > deadline) return tasks;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, 1000);
      function done() {
        clearTimeout(timer);
        daemon.events.off('task:finished', done);
        resolve();
      }
      daemon.events.on('task:finished', done);
    });
  }
}

type DemoDaemon = Awaited<ReturnType<typeof startDaemon>>;

/** The client's people, seeded at the sandboxes the customer playbook lists them at. */
async function seedCustomer(daemon: DemoDaemon, print: (line?: string) => void): Promise<void> {
  const seed = async (sandbox: string, body: object) => {
    const url = daemon.sandboxes.get(sandbox)?.url;
    if (!url) throw new Error(`demo --customer needs the ${sandbox} sandbox of config/sandbox.yaml`);
    const res = await fetch(`${url}/__sandbox/members`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`seeding the client's people at ${sandbox}: HTTP ${res.status}`);
  };
  await seed('okta', { domain: 'initech.example', count: CUSTOMER_MEMBERS, prefix: 'staff' });
  await seed('app', { domain: 'initech.example', count: CUSTOMER_MEMBERS, prefix: 'user', organization: 'Initech' });
  print(
    `  client Initech (CUST-1042): ${CUSTOMER_MEMBERS} people at okta (initech.example), ${CUSTOMER_MEMBERS} at app (organization Initech)`,
  );
}

/** What the client's offboarding did beyond its steps: members found and revoked, messages received. */
async function printCustomerOutcome(daemon: DemoDaemon, tasks: Task[], print: (line?: string) => void): Promise<void> {
  print();
  print('client offboarding:');
  for (const expansion of tasks.filter((t) => t.action === 'expand_members')) {
    const members = tasks.filter((t) => t.stepId.startsWith(`${expansion.stepId}/`));
    const kinds = new Map<string, number>();
    for (const task of members) {
      const kind = `${task.action} ${proofOf(task, []).kind.replaceAll('_', ' ')}`;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    print(`  ${expansion.stepId.padEnd(26)} ${members.length} member task(s): ${[...kinds].map(([kind, n]) => `${n} ${kind}`).join(', ')}`);
  }
  const mail = daemon.sandboxes.get('mail')?.url;
  if (mail) {
    const res = await fetch(`${mail}/__sandbox/messages`);
    const { messages } = (await res.json()) as { messages: Array<{ to: string[]; subject: string }> };
    for (const m of messages) print(`  email to ${m.to.join(', ')}: "${m.subject}"`);
  }
}
