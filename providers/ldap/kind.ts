/**
 * The LDAP / Active Directory provider kind without its adapter: what the daemon's thread
 * needs (config schema, emulator) when provider requests run on the attempt worker thread,
 * so the adapter and ldapts are loaded only where they run.
 */
import type { ProviderKind } from '../module.ts';
import { ldapConfigSchema, type LdapConfig } from './config.ts';
import { LDAP_SANDBOX_AD_BASE, LDAP_SANDBOX_BIND_DN, LDAP_SANDBOX_BIND_PASSWORD } from './sandbox-credentials.ts';

export const ldapKind: ProviderKind<LdapConfig> = {
  kind: 'ldap',
  configSchema: ldapConfigSchema,
  // Loaded on first use: only a sandbox configuration or the test and demo tooling starts an emulator.
  startSandbox: async (options) => (await import('./sandbox.ts')).startLdapSandbox(options),
  // The Active Directory naming context; a block with `flavor: openldap` names the OpenLDAP one as baseDn.
  sandboxConfig: (sandbox) =>
    ldapConfigSchema.parse({
      url: sandbox.url,
      bindDn: LDAP_SANDBOX_BIND_DN,
      bindPassword: LDAP_SANDBOX_BIND_PASSWORD,
      baseDn: LDAP_SANDBOX_AD_BASE,
    }),
};
