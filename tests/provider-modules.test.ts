/**
 * Every registered provider module starts its sandbox, accepts the config it produces for
 * it, and builds an adapter that validates against it: what `serve --config
 * config/sandbox.yaml` does for each provider.
 */
import { describe, expect, it } from 'vitest';
import { providerModules } from '../providers/index.ts';
import { providerKinds } from '../providers/kinds.ts';
import { silentLogger } from '../src/telemetry/logger.ts';

describe('provider modules', () => {
  it('registers every provider kind', () => {
    expect([...providerModules.keys()].sort()).toEqual([
      'aws',
      'brivo',
      'caep',
      'email',
      'github',
      'google',
      'ldap',
      'microsoft',
      'notify',
      'okta',
      'rest',
      'scim',
      'slack',
      'stripe',
    ]);
  });

  it('lists the same kinds without adapters, each the module minus its factory', () => {
    expect([...providerKinds.keys()].sort()).toEqual([...providerModules.keys()].sort());
    for (const [kind, module] of providerModules) {
      const { create: _create, ...withoutFactory } = module;
      expect(providerKinds.get(kind)).toEqual(withoutFactory);
    }
  });

  for (const [kind, module] of providerModules) {
    it(`${kind}: sandboxConfig parses with its own schema and validate() passes`, async () => {
      const sandbox = await module.startSandbox({ autoProvision: true });
      try {
        const parsed = module.configSchema.safeParse(module.sandboxConfig(sandbox));
        expect(parsed.error?.issues ?? []).toEqual([]);
        const provider = module.create(parsed.data, { name: kind, logger: silentLogger(), sandboxUrl: sandbox.url });
        expect(provider.kind).toBe(kind);
        await provider.validate?.({ signal: AbortSignal.timeout(10_000), logger: silentLogger() });
        await provider.close?.();
      } finally {
        await sandbox.close();
      }
    });
  }
});
