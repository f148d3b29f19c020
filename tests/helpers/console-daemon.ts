/**
 * A daemon for the console tests: a fake provider, a manual step, a delete (playbook
 * `retained`), and a brake that holds the
 * fourth termination in an hour; with `oidc`, the console's "Sign in with" that issuer too.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema, type Config } from '../../src/config/schema.ts';
import { startDaemon, type Daemon } from '../../src/daemon.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import type { FakeProvider } from './fake-provider.ts';
import { createTestModule, inlineAttemptsIn } from './test-module.ts';

export const CONSOLE_OPERATOR = `operator-${randomBytes(12).toString('hex')}`;
export const CONSOLE_VIEWER = `viewer-${randomBytes(12).toString('hex')}`;

export interface ConsoleDaemon {
  daemon: Daemon;
  config: Config;
  fake: FakeProvider;
  logs: string[];
  stop(): Promise<void>;
}

export async function startConsoleDaemon(options: { oidc?: Record<string, unknown> } = {}): Promise<ConsoleDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-console-'));
  const config = configSchema.parse({
    server: { host: '127.0.0.1', port: 0 },
    store: { sqlite: { path: join(dir, 'store.db') } },
    auth: {
      admin: [
        { name: 'ops', token: CONSOLE_OPERATOR, role: 'operator' },
        { name: 'auditor', token: CONSOLE_VIEWER, role: 'viewer' },
      ],
      ...(options.oidc ? { oidc: options.oidc } : {}),
    },
    engine: { retry: { maxAttempts: 1, baseDelay: '10ms', maxDelay: '50ms' } },
    providers: { idp: { kind: 'fake' } },
    playbooks: {
      employee: {
        steps: [
          { id: 'revoke-sessions', provider: 'idp', action: 'revoke_sessions' },
          { id: 'collect-laptop', action: 'manual', params: { instructions: 'Collect the laptop' } },
        ],
      },
      // A delete after the revocation: what a legal hold keeps (tests/console-browser.test.ts).
      retained: {
        steps: [
          { id: 'revoke-sessions', provider: 'idp', action: 'revoke_sessions' },
          { id: 'delete-account', provider: 'idp', action: 'delete_account', after: ['revoke-sessions'] },
        ],
      },
    },
    defaultPlaybook: 'employee',
    brake: { maxTerminations: 3, window: '1h' },
  });
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(line) } });
  const { modules, fakes } = createTestModule();
  const daemon = await startDaemon(inlineAttemptsIn(config), { configFile: join(dir, 'console.yaml'), logger, modules });
  return {
    daemon,
    config,
    fake: fakes.get('idp')!,
    logs,
    async stop() {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
