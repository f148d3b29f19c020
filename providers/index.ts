/** The provider kinds this build knows. A config naming another kind fails at start. */
import type { ProviderModule } from './module.ts';

export const providerModules: ReadonlyMap<string, ProviderModule<any>> = new Map<string, ProviderModule<any>>(
  ([] as ProviderModule<any>[]).map((m) => [m.kind, m]),
);
