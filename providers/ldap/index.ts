/**
 * The LDAP / Active Directory provider kind (`ldap`): config schema, adapter factory and
 * emulator. Nothing runs at import time.
 */
import type { ProviderModule } from '../module.ts';
import { createLdapProvider } from './adapter.ts';
import type { LdapConfig } from './config.ts';
import { ldapKind } from './kind.ts';

export type { LdapConfig, LdapConfigInput } from './config.ts';
export { ldapConfigSchema } from './config.ts';

export const ldapModule: ProviderModule<LdapConfig> = {
  ...ldapKind,
  create: (config, ctx) => createLdapProvider(config, ctx),
};
