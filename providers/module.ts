/**
 * What a provider kind ships: its config schema, a factory for the adapter, and its
 * sandbox (an emulator of the provider's HTTP API). The registry in `providers/index.ts`
 * lists the modules; the engine checks at start-up that every playbook action is supported.
 */
import type { z } from 'zod';
import type { Provider, ProviderFactoryContext } from './contract.ts';
import type { RunningSandbox, SandboxOptions } from './sandbox/kit.ts';

/** A kind without its adapter (`<kind>/kind.ts`): loads no SDK. */
export interface ProviderKind<Config = unknown> {
  readonly kind: string;
  /** The provider-specific part of a `providers.<name>` config block (credentials, URLs, options). */
  readonly configSchema: z.ZodType<Config>;
  /** Starts this provider's emulator on 127.0.0.1. */
  startSandbox(options: SandboxOptions): Promise<RunningSandbox>;
  /** Config that points the adapter at a running sandbox, with the sandbox's credentials. */
  sandboxConfig(sandbox: RunningSandbox): Config;
}

/**
 * The registries hold every kind as `ProviderModule` (Config = unknown), with no `any`: the
 * config flows out of the kind (schema, sandboxConfig) and back in through `create`, a method,
 * whose parameter TypeScript checks bivariantly. Each config is checked by its schema at run time.
 */
export interface ProviderModule<Config = unknown> extends ProviderKind<Config> {
  create(config: Config, ctx: ProviderFactoryContext): Provider;
}
