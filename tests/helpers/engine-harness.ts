/**
 * An engine on a fresh SQLite store with fake providers, for engine tests. Waits are on
 * the store's state, with deadlines generous enough for a machine at full load.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Provider } from '../../providers/contract.ts';
import { configSchema, type Config } from '../../src/config/schema.ts';
import type { Task, TaskState } from '../../src/domain/types.ts';
import { inlineAttempts } from '../../src/startup/inline-attempts.ts';
import { Engine } from '../../src/engine/engine.ts';
import { EngineEventBus } from '../../src/engine/events.ts';
import { TerminationService } from '../../src/intake/termination-service.ts';
import { createSqliteStore } from '../../src/store/sqlite.ts';
import type { Store } from '../../src/store/store.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { copyMigratedSqlite } from './migrated-sqlite.ts';

export interface Harness {
  store: Store;
  events: EngineEventBus;
  service: TerminationService;
  config: Config;
  engine(overrides?: { workerId?: string; lease?: number; shutdownGrace?: number; cutHoldMaxMs?: number }): Engine;
  /** Resolves when every task of the termination is in one of the states (polling the store, bounded). */
  waitForTasks(terminationId: string, done: (tasks: Task[]) => boolean, timeoutMs?: number): Promise<Task[]>;
  close(): Promise<void>;
}

export async function createHarness(providers: Provider[], config: { playbooks: unknown; engine?: unknown }): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-engine-'));
  await copyMigratedSqlite(join(dir, 'store.db'));
  const store = createSqliteStore(join(dir, 'store.db'));
  await store.migrate();
  const parsed = configSchema.parse({
    store: { sqlite: { path: join(dir, 'store.db') } },
    providers: Object.fromEntries(providers.map((p) => [p.name, { kind: 'fake', limits: { concurrency: 4 } }])),
    playbooks: config.playbooks,
    defaultPlaybook: 'default',
    engine: config.engine ?? {},
  });
  const events = new EngineEventBus();
  const service = new TerminationService(store, parsed, events);
  const engines: Engine[] = [];
  return {
    store,
    events,
    service,
    config: parsed,
    engine(overrides = {}) {
      const engine = new Engine({
        store,
        limits: new Map(providers.map((p) => [p.name, { concurrency: 4 }])),
        attempts: inlineAttempts(new Map(providers.map((p) => [p.name, p])), silentLogger()),
        engine: {
          ...parsed.engine,
          ...(overrides.lease ? { lease: overrides.lease } : {}),
          ...(overrides.shutdownGrace !== undefined ? { shutdownGrace: overrides.shutdownGrace } : {}),
        },
        events,
        logger: silentLogger(),
        workerId: overrides.workerId,
        ...(overrides.cutHoldMaxMs !== undefined ? { cutHoldMaxMs: overrides.cutHoldMaxMs } : {}),
      });
      engines.push(engine);
      return engine;
    },
    async waitForTasks(terminationId, done, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const tasks = await store.listTasks(terminationId);
        if (done(tasks)) return tasks;
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting; tasks: ${tasks.map((t) => `${t.stepId}=${t.state}`).join(', ')}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async close() {
      for (const engine of engines) await engine.stop(0);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const allIn =
  (...states: TaskState[]) =>
  (tasks: Task[]) =>
    tasks.length > 0 && tasks.every((t) => states.includes(t.state));
