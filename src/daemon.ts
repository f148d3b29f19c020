/**
 * Assembles the daemon from its config: store, sandboxes (when configured), provider
 * adapters (checked against the playbooks and validated), engine, metrics and HTTP.
 * Nothing runs at import time; `stop()` undoes everything in reverse order.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { providerKinds } from '../providers/kinds.ts';
import type { ProviderKind, ProviderModule } from '../providers/module.ts';
import type { RunningSandbox } from '../providers/sandbox/kit.ts';
import { driftNotifications, failureNotifications, overdueNotifications, preflight, reverifySchedule } from './config/policy.ts';
import type { Config } from './config/schema.ts';
import { coerceError } from './domain/errors.ts';
import { NOT_REVERIFIED } from './domain/reverify.ts';
import { Engine } from './engine/engine.ts';
import { Reverifier } from './engine/reverifier.ts';
import { startAttemptThread } from './startup/attempt-thread.ts';
import type { AttemptRunner } from './engine/attempts.ts';
import { installConnectionFence } from './startup/connection-fence.ts';
import { inlineAttempts } from './startup/inline-attempts.ts';
import { createProviders, summarise, validateProviders, type ProviderSpec, type ProviderSummary } from './startup/provider-setup.ts';
import { EngineEventBus } from './engine/events.ts';
import { TerminationService } from './intake/termination-service.ts';
import { createApp } from './server/app.ts';
import { listen } from './server/listen.ts';
import { commitReadiness } from './server/readiness.ts';
import { buildRouters } from './server/routes.ts';
import { openStore } from './store/open.ts';
import type { Store } from './store/store.ts';
import { createMetrics } from './telemetry/metrics.ts';

export interface DaemonOptions {
  /** The config file, named in start-up errors. */
  configFile: string;
  logger: Logger;
  modules?: ReadonlyMap<string, ProviderModule>;
  now?: () => Date;
  /** Start the scheduler (default true). Tests of intake alone can leave it off. */
  runEngine?: boolean;
}

export interface Daemon {
  url: string;
  store: Store;
  engine: Engine;
  /** Re-verifications of completed terminations (tests run a pass with `runDue`). */
  reverifier: Reverifier;
  events: EngineEventBus;
  terminations: TerminationService;
  metrics: Registry;
  sandboxes: Map<string, RunningSandbox>;
  stop(): Promise<void>;
}

export async function startDaemon(config: Config, options: DaemonOptions): Promise<Daemon> {
  const { logger } = options;
  const cleanup: Array<() => Promise<void>> = [];
  const undo = async () => {
    for (const step of cleanup.reverse()) await step().catch((e: unknown) => logger.warn({ err: coerceError(e) }, 'cleanup step failed'));
  };
  try {
    const store = await openStore(config.store, logger.child({ component: 'store' }), options.now);
    cleanup.push(() => store.close());
    await store.migrate();
    // Links the audit chain shortly after each append (and on a slow timer); close() stops it.
    store.startAuditLinker();

    // Injected provider modules and clocks exist on this thread only (tests); otherwise attempts
    // get a thread of their own and this thread never loads an adapter or its SDK.
    // Where attempts run is the config's choice alone. Injected provider modules and clocks
    // (tests) exist on this thread only, so they need the inline runner, said explicitly.
    const inline = !config.engine.providerThread;
    if (!inline && (options.modules || options.now)) {
      throw new Error(
        "injected provider modules or a clock exist on the daemon's thread only: set engine.providerThread to false to run attempts there",
      );
    }
    const modules = inline ? (options.modules ?? (await import('../providers/index.ts')).providerModules) : null;
    const kinds: ReadonlyMap<string, ProviderKind> = modules ?? providerKinds;
    const sandboxes = new Map<string, RunningSandbox>();
    // The same checks as `config check`, in the same function.
    const {
      specs,
      checkProviders: check,
      notes,
    } = await preflight(config, options.configFile, kinds, (name, started) => {
      cleanup.push(() => started.close());
      sandboxes.set(name, started);
      logger.info({ provider: name, kind: config.providers[name]!.kind, url: started.url }, 'sandbox provider started');
    });
    for (const note of notes) logger.info({ configFile: options.configFile }, `config note: ${note}`);
    const events = new EngineEventBus();
    const attempts = modules
      ? await inlineProviders(specs, modules, logger, check, options.now)
      : await startAttemptThread(specs, logger, check, { niceIncrement: config.engine.providerThreadNice, events });
    cleanup.push(() => attempts.close());

    const engine = new Engine({
      store,
      limits: new Map(specs.map((s) => [s.name, s.limits])),
      attempts,
      engine: config.engine,
      events,
      logger: logger.child({ component: 'engine' }),
      now: options.now,
      followUpOnFailure: failureNotifications(config, options.now ?? (() => new Date())),
      followUpOnOverdue: overdueNotifications(config, options.now ?? (() => new Date())),
      ...(config.brake?.organizationMembers !== undefined
        ? { organizationMembersBrake: { threshold: config.brake.organizationMembers, notify: config.brake.notify ?? null } }
        : {}),
    });
    store.setReverifySchedule(reverifySchedule(config));
    const reverifier = new Reverifier({
      store,
      attempts,
      providers: specs.map((s) => s.name),
      live: engine,
      reverify: config.reverify,
      engine: config.engine,
      remediate: (playbook) => Object.hasOwn(config.playbooks, playbook) && config.playbooks[playbook]!.reverify.remediate,
      followUpOnDrift: driftNotifications(config, options.now ?? (() => new Date())),
      events,
      logger: logger.child({ component: 'reverifier' }),
      workerId: engine.workerId,
      now: options.now,
    });
    const terminations = new TerminationService(store, config, events, options.now);
    const metrics = createMetrics({
      events,
      store,
      queueDepth: () => engine.queueDepth(),
      now: options.now,
      providers: reverifiedActions(config),
    });

    let ready = false;
    const routers = await buildRouters({ config, store, terminations, engine, events, logger, now: options.now ?? (() => new Date()) });
    const readiness = commitReadiness({
      started: () => ready,
      probeCommit: () => store.probeCommit(),
      logger: logger.child({ component: 'readiness' }),
    });
    const app = createApp({ config, logger, metrics, ready: readiness, routers });
    const server: Server = await listen(app, config.server);
    cleanup.push(async () => {
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const { port } = server.address() as AddressInfo;
    const url = `http://${config.server.host === '0.0.0.0' ? '127.0.0.1' : config.server.host}:${port}`;

    if (options.runEngine !== false) engine.start();
    cleanup.push(() => engine.stop());
    if (options.runEngine !== false) reverifier.start();
    cleanup.push(() => reverifier.stop());
    const stopPruning = startAuditPruning(store, config.audit.retention, logger, options.now ?? (() => new Date()));
    cleanup.push(async () => stopPruning());
    ready = true;
    logger.info(
      { url, store: store.dialect, providers: specs.map((s) => s.name), providerThread: !inline, worker: engine.workerId },
      'deprovisiond started',
    );

    let stopping: Promise<void> | null = null;
    return {
      url,
      store,
      engine,
      reverifier,
      events,
      terminations,
      metrics,
      sandboxes,
      stop: () => {
        stopping ??= (async () => {
          ready = false;
          await undo();
        })();
        return stopping;
      },
    };
  } catch (error) {
    await undo();
    throw error;
  }
}

/** The provider instances and actions the playbooks re-verify: their drift counters start at 0. */
function reverifiedActions(config: Config): Array<{ name: string; actions: string[] }> {
  const byProvider = new Map<string, Set<string>>();
  for (const playbook of Object.values(config.playbooks)) {
    for (const step of playbook.steps) {
      if (!step.provider || NOT_REVERIFIED.has(step.action)) continue;
      byProvider.set(step.provider, (byProvider.get(step.provider) ?? new Set()).add(step.action));
    }
  }
  return [...byProvider].map(([name, actions]) => ({ name, actions: [...actions] }));
}

/** How often old audit entries are pruned; retention is counted in days, so this is plenty. */
const AUDIT_PRUNE_INTERVAL_MS = 6 * 3_600_000;

function startAuditPruning(store: Store, retentionMs: number, logger: Logger, now: () => Date): () => void {
  const prune = async () => {
    try {
      const { pruned, throughPosition } = await store.pruneAudit(new Date(now().getTime() - retentionMs), 'engine:retention');
      if (pruned > 0) logger.info({ pruned, throughPosition }, 'pruned audit entries past retention');
    } catch (error) {
      logger.warn({ err: coerceError(error) }, 'audit pruning failed; will try again');
    }
  };
  void prune();
  const timer = setInterval(() => void prune(), AUDIT_PRUNE_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** Attempts on this thread: the providers are created here, checked against the playbooks, then validated. */
async function inlineProviders(
  specs: ProviderSpec[],
  modules: ReadonlyMap<string, ProviderModule>,
  logger: Logger,
  check: (providers: ProviderSummary[]) => void,
  now?: () => Date,
): Promise<AttemptRunner> {
  // Attempts run on this thread: fence its connections as the worker thread fences its own.
  installConnectionFence();
  const providers = createProviders(specs, modules, logger);
  const attempts = inlineAttempts(providers, logger.child({ component: 'engine' }), now);
  try {
    check(summarise(providers));
    await validateProviders(providers, logger);
  } catch (error) {
    await attempts.close();
    throw error;
  }
  return attempts;
}
