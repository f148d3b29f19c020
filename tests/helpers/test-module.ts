/**
 * A provider module for daemon-level tests (intake, admin API, CLI): kind `fake`, backed by
 * FakeProvider, so tests can start the whole daemon without the real provider modules.
 * `fakes` gives each test the instances the daemon created, by provider name, to script
 * failures and count calls.
 */
import express from 'express';
import { z } from 'zod';
import type { ProviderModule } from '../../providers/module.ts';
import { createSandboxApp, listenSandbox, type SandboxStyle } from '../../providers/sandbox/kit.ts';
import { ACTIONS, type ActionName } from '../../src/domain/types.ts';
import { FakeProvider } from './fake-provider.ts';

const settingsSchema = z
  .object({
    /** Actions the fake supports; default all but `manual`, which is for people, not adapters. */
    actions: z.array(z.enum(ACTIONS)).optional(),
  })
  .loose();

// The fake talks to no API: its sandbox only exists so `sandbox:` blocks in test configs work.
const style: SandboxStyle = {
  rateLimited: (res, retryAfterMs) =>
    void res
      .status(429)
      .set('Retry-After', String(Math.ceil(retryAfterMs / 1000)))
      .end(),
  serverError: (res) => void res.status(500).end(),
  unauthorized: (res) => void res.status(401).end(),
  authorized: () => true,
};

export interface TestModule {
  module: ProviderModule<z.infer<typeof settingsSchema>>;
  /** The FakeProvider the daemon created for each provider name. */
  fakes: Map<string, FakeProvider>;
  /** A `modules` map for startDaemon. */
  modules: ReadonlyMap<string, ProviderModule<any>>;
}

export function createTestModule(): TestModule {
  const fakes = new Map<string, FakeProvider>();
  const module: ProviderModule<z.infer<typeof settingsSchema>> = {
    kind: 'fake',
    configSchema: settingsSchema,
    create(config, ctx) {
      const supported = config.actions ?? ACTIONS.filter((a): a is ActionName => a !== 'manual');
      const fake = new FakeProvider(ctx.name, supported);
      fakes.set(ctx.name, fake);
      return fake;
    },
    startSandbox: (options) => listenSandbox(createSandboxApp(style, options, (app) => void app.use(express.Router()))),
    sandboxConfig: () => ({}),
  };
  return { module, fakes, modules: new Map([[module.kind, module as ProviderModule<any>]]) };
}

/**
 * The config with attempts on the daemon's thread: injected provider modules exist on this
 * thread only, and the daemon refuses them unless the config says so.
 */
export function inlineAttemptsIn<C extends { engine: { providerThread: boolean } }>(config: C): C {
  return { ...config, engine: { ...config.engine, providerThread: false } };
}
