/**
 * Provider chaos: 1,000 terminations while every sandbox (Okta, Google, Microsoft, in a
 * process of their own) injects a fault mix at once: 10% 5xx, 5% rate limits, 2%
 * timeouts (the kit holds the request 30 s; the engine's attemptTimeout is 1.5 s here) and
 * 2% lying writes (2xx that change nothing). Every task must end succeeded (no permanent
 * fault is injected), and no task may be succeeded whose read-back would disagree: the
 * end state of each account is read from the sandboxes' control routes, behind the
 * adapters' back. Bounded: CHAOS_TERMINATIONS (1000), a 150 s deadline. Providers' rate-limit
 * answers ask for a whole second (Okta's reset is in epoch seconds); engine.retry.maxRetryAfter
 * caps the pause at 100 ms so the run stays short (Retry-After itself: tests/retry-policy.test.ts).
 */
import { SEALED } from '../src/store/rows.ts';
import { sealedReader } from './helpers/sealed-reader.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnDaemon, spawnSandboxes, type DaemonProcess, type SandboxProcess } from './helpers/processes.ts';
import { intakeClients, request, sleep, type Acknowledged } from './helpers/reliability.ts';

const TERMINATIONS = Number(process.env.CHAOS_TERMINATIONS ?? 1000);
const DEADLINE_MS = 150_000;
const FAULTS = { errorRate: 0.1, rateLimitRate: 0.05, rateLimitRetryAfterMs: 50, timeoutRate: 0.02, lyingRate: 0.02 };
const SCIM_TOKEN = 'chaos-scim-token-0123456789abcdef';
const WEBHOOK_SECRET = 'whsec_Y2hhb3MtdGVzdC13ZWJob29rLXNlY3JldC0xMjM0';

/** One disabling step per provider; each verifies by read-back, which is what a lying write must not get past. */
const STEPS = [
  { id: 'okta-suspend', provider: 'okta', action: 'disable_account', params: { mode: 'suspend' } },
  { id: 'google-suspend', provider: 'google', action: 'disable_account' },
  { id: 'microsoft-disable', provider: 'microsoft', action: 'disable_account' },
] as const;

/** What the sandbox's own state must show for a succeeded step, read through its control route. */
const disabled: Record<string, (state: Record<string, unknown>) => boolean> = {
  'okta-suspend': (s) => s.status === 'SUSPENDED',
  'google-suspend': (s) => s.suspended === true,
  'microsoft-disable': (s) => s.accountEnabled === false,
};

describe('provider chaos: every sandbox faulty at once', () => {
  let dir: string;
  let sandboxes: SandboxProcess | undefined;
  let daemon: DaemonProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-chaos-'));
    sandboxes = await spawnSandboxes(['--kinds', 'okta,google,microsoft']);
    const s = sandboxes.sandboxes;
    const config = {
      server: { host: '127.0.0.1', port: 0 },
      store: { sqlite: { path: join(dir, 'store.db') } },
      auth: { scim: [SCIM_TOKEN], webhook: [WEBHOOK_SECRET] },
      engine: {
        lease: '5s',
        attemptTimeout: '1500ms',
        shutdownGrace: '1s',
        // Enough attempts that 8 transient faults in a row (p ~ 1e-4 per task here) do not fail a task by chance.
        retry: { baseDelay: '50ms', maxDelay: '500ms', maxAttempts: 20, maxRateLimitWaits: 100, maxRetryAfter: '100ms' },
      },
      providers: {
        okta: { kind: 'okta', ...s.okta!.settings, limits: { concurrency: 24 } },
        google: { kind: 'google', ...s.google!.settings, limits: { concurrency: 24 } },
        microsoft: { kind: 'microsoft', ...s.microsoft!.settings, limits: { concurrency: 24 } },
      },
      playbooks: { leaver: { steps: STEPS } },
      defaultPlaybook: 'leaver',
    };
    writeFileSync(join(dir, 'config.yaml'), JSON.stringify(config, null, 2));
    // Faults go on after start: start-up validation talks to the providers too.
    daemon = await spawnDaemon(join(dir, 'config.yaml'), { LOG_LEVEL: 'info' });
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop('SIGTERM', 3_000);
    await sandboxes?.stop('SIGTERM', 2_000);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it(
    `runs ${TERMINATIONS} terminations to verified success under 5xx, rate limits, timeouts and lying writes`,
    async () => {
      const s = sandboxes!.sandboxes;
      const urls = { okta: s.okta!.url, google: s.google!.url, microsoft: s.microsoft!.url };
      for (const [i, url] of Object.values(urls).entries()) {
        const answer = await request(`${url}/__sandbox/faults`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...FAULTS, seed: 17 + i }),
        });
        expect(answer.status, answer.text).toBe(200);
      }
      const startedAt = Date.now();
      const deadline = startedAt + DEADLINE_MS;
      const clients = intakeClients({ baseUrl: () => daemon!.url, scimToken: SCIM_TOKEN, webhookSecret: WEBHOOK_SECRET, deadline });
      const acks: Acknowledged[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let i = next++; i < TERMINATIONS; i = next++)
            acks.push(await clients.webhook(i, `chaos-${startedAt}-${i}@example.com`, `msg_chaos_${startedAt}_${i}`));
        }),
      );
      const intakeMs = Date.now() - startedAt;

      const db = new BetterSqlite3(join(dir, 'store.db'), { readonly: true });
      try {
        const finished = () =>
          (
            db.prepare(`select count(*) as n from tasks where state in ('succeeded', 'failed', 'skipped', 'cancelled')`).get() as {
              n: number;
            }
          ).n;
        while (finished() < TERMINATIONS * STEPS.length) {
          if (Date.now() > deadline) {
            throw new Error(
              `chaos run not finished after ${DEADLINE_MS} ms: ${JSON.stringify(db.prepare('select state, count(*) as n from tasks group by state').all())}`,
            );
          }
          await sleep(200);
        }
        const doneMs = Date.now() - startedAt;
        // Faults off before the read-back, so the control routes (never faulted) and nothing else answers.
        const tasks = db.prepare(`select id, termination_id, step_id, state, account, last_error from tasks`).all() as Array<{
          id: string;
          termination_id: string;
          step_id: string;
          state: string;
          account: string | null;
          last_error: string | null;
        }>;
        const attempts = db
          .prepare(`select outcome, error_kind, count(*) as n from task_attempts group by outcome, error_kind order by n desc`)
          .all() as Array<{
          outcome: string;
          error_kind: string | null;
          n: number;
        }>;

        // Accounts and errors are sealed at rest (docs/privacy.md): read with the daemon's keys.
        const sealed = await sealedReader(join(dir, 'store.db'));
        // Every task succeeded (no permanent fault was injected, so none may fail).
        const notSucceeded = tasks
          .filter((t) => t.state !== 'succeeded')
          .map(
            (t) => `${t.step_id} ${t.id}: ${t.state} ${t.last_error ? sealed.open(t.termination_id, SEALED.lastError, t.last_error) : ''}`,
          );

        // Each succeeded task's account, as the sandbox holds it now.
        const lies: string[] = [];
        const controlPath: Record<string, (id: string) => string> = {
          'okta-suspend': (id) => `${urls.okta}/__sandbox/users/${encodeURIComponent(id)}`,
          'google-suspend': (id) => `${urls.google}/__sandbox/users/${encodeURIComponent(id)}`,
          'microsoft-disable': (id) => `${urls.microsoft}/__sandbox/users/${encodeURIComponent(id)}`,
        };
        const succeeded = tasks.filter((t) => t.state === 'succeeded');
        let index = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            for (let i = index++; i < succeeded.length; i = index++) {
              const task = succeeded[i]!;
              const account = task.account ? sealed.open(task.termination_id, SEALED.account, task.account) : null;
              const id = account ? (JSON.parse(account) as { id?: string }).id : undefined;
              if (!id) {
                lies.push(`${task.step_id} ${task.id}: succeeded without an account`);
                continue;
              }
              const answer = await request(controlPath[task.step_id]!(id));
              if (answer.status !== 200 || !disabled[task.step_id]!(answer.body as Record<string, unknown>)) {
                lies.push(`${task.step_id} ${task.id}: succeeded, but the sandbox holds ${answer.text.slice(0, 200)}`);
              }
            }
          }),
        );

        // What was injected, from the sandboxes' own request logs.
        const injected: Record<string, Record<string, number>> = {};
        for (const [name, url] of Object.entries(urls)) {
          const log = (await request(`${url}/__sandbox/requests`, { timeoutMs: 30_000 })).body as Array<{ fault: string | null }>;
          injected[name] = { requests: log.length };
          for (const entry of log) if (entry.fault) injected[name][entry.fault] = (injected[name][entry.fault] ?? 0) + 1;
        }
        const verificationRetries = attempts.filter((a) => a.error_kind === 'verification').reduce((n, a) => n + a.n, 0);
        console.log(
          [
            `reliability-chaos: ${TERMINATIONS} terminations, ${tasks.length} tasks on okta, google and microsoft at once; faults ${JSON.stringify(FAULTS)}, attemptTimeout 1.5 s`,
            `  intake ${intakeMs} ms (${acks.filter((a) => a.retries > 0).length} webhook(s) retried); every task finished at ${doneMs} ms`,
            `  injected: ${Object.entries(injected)
              .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
              .join('; ')}`,
            `  attempts by outcome/error: ${attempts.map((a) => `${a.outcome}${a.error_kind ? `/${a.error_kind}` : ''} ${a.n}`).join(', ')}`,
            `  lying writes caught by read-back (verification retries): ${verificationRetries}`,
            `  tasks not succeeded: ${notSucceeded.length}; succeeded tasks whose account the sandbox shows still enabled: ${lies.length}`,
          ].join('\n'),
        );
        expect(notSucceeded).toEqual([]);
        expect(lies).toEqual([]);
        expect(succeeded.length).toBe(TERMINATIONS * STEPS.length);
        // The faults really happened.
        for (const counts of Object.values(injected)) {
          expect(counts.error ?? 0).toBeGreaterThan(0);
          expect(counts.rate_limited ?? 0).toBeGreaterThan(0);
          expect(counts.timeout ?? 0).toBeGreaterThan(0);
        }
        expect(verificationRetries).toBeGreaterThan(0);
      } finally {
        db.close();
      }
    },
    DEADLINE_MS + 60_000,
  );
});
