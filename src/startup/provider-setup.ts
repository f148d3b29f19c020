/**
 * Creates and validates the provider adapters from their parsed settings. The same code
 * runs on the daemon's thread (inline attempts) and on the attempt worker thread, which
 * receives the specs as plain data. Creating is separate from validating so the playbooks
 * are checked against what the providers support before any provider is called.
 */
import type { Logger } from 'pino';
import type { Provider } from '../../providers/contract.ts';
import type { ProviderModule } from '../../providers/module.ts';
import type { Config } from '../config/schema.ts';
import { coerceError } from '../domain/errors.ts';
import { assertLeaseHeld } from '../engine/lease-fence.ts';
import { createRequestThrottle, unthrottled } from '../engine/request-throttle.ts';

export interface ProviderSpec {
  name: string;
  kind: string;
  /** The provider-specific settings as the kind's schema parsed them (sandbox settings merged in). */
  settings: unknown;
  limits: Config['providers'][string]['limits'];
  sandboxUrl?: string;
}

/** What the daemon's thread needs to know of a provider it does not hold: the actions its playbooks may name. */
export interface ProviderSummary {
  name: string;
  kind: string;
  actions: string[];
}

// Each module's settings type is its own, checked by its schema at run time: no static type spans them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyProviderModule = ProviderModule<any>;

export function createProviders(
  specs: ProviderSpec[],
  modules: ReadonlyMap<string, AnyProviderModule>,
  logger: Logger,
): Map<string, Provider> {
  const providers = new Map<string, Provider>();
  try {
    for (const spec of specs) {
      const module = modules.get(spec.kind);
      if (!module) throw new Error(`provider ${spec.name}: no provider kind ${spec.kind} in this build`);
      const limit = spec.limits.requestsPerSecond ? createRequestThrottle(spec.limits.requestsPerSecond) : unthrottled;
      // Every adapter awaits this before each request: the rate limit first, then the lease
      // fence, so a request that waited for its turn is checked at the moment it goes out.
      const throttle = async (signal?: AbortSignal) => {
        await limit(signal);
        assertLeaseHeld();
      };
      providers.set(
        spec.name,
        module.create(spec.settings, {
          name: spec.name,
          logger: logger.child({ provider: spec.name }),
          sandboxUrl: spec.sandboxUrl,
          throttle,
        }),
      );
    }
  } catch (error) {
    // The ones already created may hold sockets or timers.
    void closeProviders(providers);
    throw error;
  }
  return providers;
}

/** Each provider checks its credentials and reachability; the first failure names its provider. */
export async function validateProviders(providers: ReadonlyMap<string, Provider>, logger: Logger): Promise<void> {
  await Promise.all(
    [...providers.values()].map(async (provider) => {
      try {
        await provider.validate?.({ signal: AbortSignal.timeout(30_000), logger });
      } catch (error) {
        throw new Error(`provider ${provider.name} (${provider.kind}) failed validation: ${coerceError(error).message}`, { cause: error });
      }
    }),
  );
}

/** Closes every provider; one that fails to close does not keep the others open. */
export async function closeProviders(providers: ReadonlyMap<string, Provider>): Promise<void> {
  await Promise.allSettled([...providers.values()].map(async (p) => p.close?.()));
}

export function summarise(providers: ReadonlyMap<string, Provider>): ProviderSummary[] {
  return [...providers.values()].map((p) => ({
    name: p.name,
    kind: p.kind,
    // Listing an organization's members is a capability, not an action handler: the step runs it.
    actions: [...Object.keys(p.actions), ...(p.listMembers ? ['expand_members'] : [])],
  }));
}
