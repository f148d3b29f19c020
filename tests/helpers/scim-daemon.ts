/**
 * The whole daemon on SQLite in a temp dir, for SCIM tests: with the fake provider module
 * (endpoint tests), or with the real Okta module and its sandbox (end to end). Logs are
 * captured so tests can assert that no token reaches them.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { oktaModule } from '../../providers/okta/index.ts';
import type { ProviderModule } from '../../providers/module.ts';
import { configSchema, type Config } from '../../src/config/schema.ts';
import { startDaemon, type Daemon } from '../../src/daemon.ts';
import type { Task, Termination } from '../../src/domain/types.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { pollUntil, readAnswer, type JsonAnswer } from './poll.ts';
import { createTestModule } from './test-module.ts';
import { inlineAttemptsIn } from './test-module.ts';

/** The current token and the one being rotated out: both are accepted. */
export const SCIM_TOKENS = [`scim-${randomBytes(16).toString('hex')}`, `scim-${randomBytes(16).toString('hex')}`] as const;
export const SCIM_JSON = 'application/scim+json';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

export type ScimResponse = JsonAnswer;

/** A SCIM error answer: the status, a SCIM error body saying the same status, and the scimType when given. */
export function expectScimError(response: ScimResponse, status: number, scimType?: string): void {
  expect(response.status, response.text).toBe(status);
  expect(response.headers.get('content-type')).toContain(SCIM_JSON);
  expect(response.body.schemas).toEqual([ERROR_SCHEMA]);
  expect(response.body.status).toBe(String(status));
  if (scimType) expect(response.body.scimType).toBe(scimType);
}

export interface ScimTestDaemon {
  daemon: Daemon;
  config: Config;
  logs: string[];
  scim(
    method: string,
    path: string,
    options?: { token?: string | null; body?: unknown; raw?: string; contentType?: string; headers?: Record<string, string> },
  ): Promise<ScimResponse>;
  /** Polls the store until `check` returns a value (bounded; never a fixed sleep). */
  waitFor<T>(check: () => Promise<T | null | undefined | false>, what: string, timeoutMs?: number): Promise<T>;
  terminations(): Promise<Termination[]>;
  tasks(terminationId: string): Promise<Task[]>;
  stop(): Promise<void>;
}

export async function startScimDaemon(
  options: {
    provider?: 'fake' | 'okta';
    runEngine?: boolean;
    bodyLimit?: string;
    playbooks?: Record<string, unknown>;
    playbookRules?: unknown[];
  } = {},
): Promise<ScimTestDaemon> {
  const provider = options.provider ?? 'fake';
  const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-scim-'));
  const config = configSchema.parse({
    server: { host: '127.0.0.1', port: 0, bodyLimit: options.bodyLimit ?? '16kb' },
    store: { sqlite: { path: join(dir, 'store.db') } },
    auth: { scim: [...SCIM_TOKENS] },
    engine: { retry: { maxAttempts: 2, baseDelay: '10ms', maxDelay: '50ms' } },
    providers: provider === 'okta' ? { okta: { kind: 'okta', sandbox: { autoProvision: true } } } : { fake: { kind: 'fake' } },
    playbooks: {
      default: {
        steps:
          provider === 'okta'
            ? [
                { id: 'okta-revoke', provider: 'okta', action: 'revoke_sessions' },
                { id: 'okta-suspend', provider: 'okta', action: 'disable_account', params: { mode: 'suspend' } },
              ]
            : [
                { id: 'revoke', provider: 'fake', action: 'revoke_sessions' },
                { id: 'disable', provider: 'fake', action: 'disable_account', after: ['revoke'] },
              ],
      },
      ...options.playbooks,
    },
    defaultPlaybook: 'default',
    playbookRules: options.playbookRules ?? [],
  });
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(line) } });
  const modules: ReadonlyMap<string, ProviderModule<any>> = provider === 'okta'
    ? new Map([[oktaModule.kind, oktaModule as ProviderModule<any>]])
    : createTestModule().modules;
  const daemon = await startDaemon(inlineAttemptsIn(config), {
    configFile: join(dir, 'test.yaml'),
    logger,
    modules,
    runEngine: options.runEngine ?? false,
  });

  return {
    daemon,
    config,
    logs,
    async scim(method, path, request = {}) {
      const headers: Record<string, string> = { accept: SCIM_JSON, ...request.headers };
      const token = request.token === undefined ? SCIM_TOKENS[0] : request.token;
      if (token) headers.authorization = `Bearer ${token}`;
      let body: string | undefined = request.raw;
      if (request.body !== undefined) body = JSON.stringify(request.body);
      if (body !== undefined) headers['content-type'] = request.contentType ?? SCIM_JSON;
      return readAnswer(await fetch(`${daemon.url}/scim/v2${path}`, { method, headers, body }));
    },
    waitFor: (check, what, timeoutMs = 15_000) => pollUntil(check, () => `timed out waiting for ${what}`, timeoutMs),
    async terminations() {
      return (await daemon.store.listTerminations({ limit: 1000 })).items;
    },
    tasks: (terminationId) => daemon.store.listTasks(terminationId),
    async stop() {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
