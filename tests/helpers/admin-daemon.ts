/**
 * The whole daemon on SQLite in a temp dir, with the fake provider module, admin tokens
 * and webhook secrets: for tests of the webhook, the admin API and the CLI. Logs are
 * captured so tests can assert that no secret reaches them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { configSchema, type Config } from '../../src/config/schema.ts';
import { startDaemon, type Daemon } from '../../src/daemon.ts';
import type { Termination } from '../../src/domain/types.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import type { FakeProvider } from './fake-provider.ts';
import { pollUntil, readAnswer, type JsonAnswer } from './poll.ts';
import { createTestModule } from './test-module.ts';
import { inlineAttemptsIn } from './test-module.ts';

export const VIEWER_TOKEN = `viewer-${randomBytes(12).toString('hex')}`;
export const OPERATOR_TOKEN = `operator-${randomBytes(12).toString('hex')}`;
/** The current secret and the one being rotated out: both are accepted. */
export const WEBHOOK_SECRETS = [`whsec_${randomBytes(24).toString('base64')}`, `whsec_${randomBytes(24).toString('base64')}`] as const;

export interface TestDaemon {
  daemon: Daemon;
  url: string;
  config: Config;
  fake: FakeProvider;
  /** Every log line the daemon wrote. */
  logs: string[];
  api(
    method: string,
    path: string,
    options?: { token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> },
  ): Promise<ApiResponse>;
  /** Polls the store until the termination satisfies `done` (bounded; never a fixed sleep). */
  waitFor(terminationId: string, done: (t: Termination) => boolean, timeoutMs?: number): Promise<Termination>;
  stop(): Promise<void>;
}

export type ApiResponse = JsonAnswer;

export async function startTestDaemon(overrides: { auth?: Record<string, unknown>; bodyLimit?: string } = {}): Promise<TestDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-admin-'));
  const config = configSchema.parse({
    server: { host: '127.0.0.1', port: 0, bodyLimit: overrides.bodyLimit ?? '16kb' },
    store: { sqlite: { path: join(dir, 'store.db') } },
    auth: {
      admin: [
        { name: 'watcher', token: VIEWER_TOKEN, role: 'viewer' },
        { name: 'ops', token: OPERATOR_TOKEN, role: 'operator' },
      ],
      webhook: [...WEBHOOK_SECRETS],
      ...overrides.auth,
    },
    engine: { retry: { maxAttempts: 1, baseDelay: '10ms', maxDelay: '50ms' } },
    providers: { fake: { kind: 'fake' } },
    playbooks: {
      default: {
        steps: [
          { id: 'revoke', provider: 'fake', action: 'revoke_sessions' },
          { id: 'disable', provider: 'fake', action: 'disable_account', after: ['revoke'] },
        ],
      },
      quick: { steps: [{ id: 'revoke', provider: 'fake', action: 'revoke_sessions' }] },
      // A delete after the revocation (legal holds keep it; tests/legal-hold.test.ts).
      retained: {
        steps: [
          { id: 'revoke', provider: 'fake', action: 'revoke_sessions' },
          { id: 'delete', provider: 'fake', action: 'delete_account', after: ['revoke'] },
        ],
      },
    },
    defaultPlaybook: 'default',
  });
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(line) } });
  const { modules, fakes } = createTestModule();
  const daemon = await startDaemon(inlineAttemptsIn(config), { configFile: join(dir, 'test.yaml'), logger, modules });
  const url = daemon.url;

  return {
    daemon,
    url,
    config,
    fake: fakes.get('fake')!,
    logs,
    async api(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const token = options.token === undefined ? OPERATOR_TOKEN : options.token;
      if (token) headers.authorization = `Bearer ${token}`;
      let body: string | undefined = options.raw;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] = 'application/json';
      }
      return readAnswer(await fetch(`${url}${path}`, { method, headers, body }));
    },
    async waitFor(terminationId, done, timeoutMs = 10_000) {
      let termination: Termination | null = null;
      return pollUntil(
        async () => {
          termination = await daemon.store.getTermination(terminationId);
          return termination && done(termination) ? termination : null;
        },
        () => `timed out waiting for termination ${terminationId}: ${termination?.state}`,
        timeoutMs,
      );
    },
    async stop() {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Signs like a Standard Webhooks sender: `webhook-signature: v1,<base64 HMAC>`. */
export function signedHeaders(
  payload: string,
  options: { id?: string; secret?: string; at?: Date; extraSignatures?: string[] } = {},
): Record<string, string> {
  const id = options.id ?? `msg_${randomBytes(8).toString('hex')}`;
  const at = options.at ?? new Date();
  const signature = new Webhook(options.secret ?? WEBHOOK_SECRETS[0]).sign(id, at, payload);
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': [...(options.extraSignatures ?? []), signature].join(' '),
  };
}

let counter = 0;
/** A subject no other test uses. */
export function uniqueSubject(prefix = 'user') {
  counter += 1;
  const email = `${prefix}-${process.pid}-${counter}@example.com`;
  return { externalId: `E-${process.pid}-${prefix}-${counter}`, userName: email, emails: [email] };
}
