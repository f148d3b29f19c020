/**
 * The whole daemon on SQLite in a temp dir, with all three doors open to the test (SCIM
 * token, admin operator token, webhook secret), for the hostile-input suites. Logs are
 * captured so a test can assert that nothing was logged at error level.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { configSchema, type Config } from '../../src/config/schema.ts';
import { startDaemon, type Daemon } from '../../src/daemon.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { createTestModule, inlineAttemptsIn } from './test-module.ts';

export const HOSTILE_SCIM_TOKEN = 'hostile-scim-token-0123456789abcdef';
export const HOSTILE_ADMIN_TOKEN = 'hostile-admin-token-0123456789abcdef';
export const HOSTILE_WEBHOOK_SECRET = 'whsec_aG9zdGlsZS10ZXN0LXdlYmhvb2stc2VjcmV0LTEyMzQ=';

export interface HostileAnswer {
  status: number;
  text: string;
  headers: Headers;
  /** The parsed JSON body, or null when the body is not JSON. */
  json: any;
}

export interface HostileDaemon {
  daemon: Daemon;
  config: Config;
  logs: string[];
  dir: string;
  /** One request; SCIM and admin paths carry their token unless `auth: 'none'`. */
  send(method: string, path: string, options?: { headers?: Record<string, string>; body?: string; auth?: 'none' }): Promise<HostileAnswer>;
  stop(): Promise<void>;
}

export async function startHostileDaemon(overrides: { server?: Record<string, unknown> } = {}): Promise<HostileDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-hostile-'));
  const config = configSchema.parse({
    server: { host: '127.0.0.1', port: 0, bodyLimit: '256kb', ...overrides.server },
    store: { sqlite: { path: join(dir, 'store.db') } },
    auth: {
      admin: [{ name: 'ops', token: HOSTILE_ADMIN_TOKEN, role: 'operator' }],
      scim: [HOSTILE_SCIM_TOKEN],
      webhook: [HOSTILE_WEBHOOK_SECRET],
    },
    providers: { fake: { kind: 'fake' } },
    playbooks: { leaver: { steps: [{ id: 'revoke', provider: 'fake', action: 'revoke_sessions' }] } },
    defaultPlaybook: 'leaver',
  });
  const logs: string[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(line) } });
  const daemon = await startDaemon(inlineAttemptsIn(config), {
    configFile: join(dir, 'config.yaml'),
    logger,
    modules: createTestModule().modules,
    runEngine: false,
  });
  // A connection of its own per request (pipelining 0 turns keep-alive off): a kept-alive
  // connection the server closes as it idles out can be picked for the next request in the
  // same instant, which then fails with ECONNRESET; on a loaded machine that happened.
  const dispatcher = new Agent({ pipelining: 0 });
  return {
    daemon,
    config,
    logs,
    dir,
    async send(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.auth !== 'none' && path.startsWith('/scim/')) headers.authorization = `Bearer ${HOSTILE_SCIM_TOKEN}`;
      if (options.auth !== 'none' && path.startsWith('/admin/')) headers.authorization = `Bearer ${HOSTILE_ADMIN_TOKEN}`;
      const res = await fetch(`${daemon.url}${path}`, {
        method,
        headers,
        body: options.body,
        signal: AbortSignal.timeout(15_000),
        dispatcher,
      } as RequestInit);
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
      return { status: res.status, text, headers: res.headers, json };
    },
    async stop() {
      await dispatcher.close();
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
