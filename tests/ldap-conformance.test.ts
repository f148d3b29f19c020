/**
 * The LDAP adapter passes the shared conformance suite against its emulated directory, in
 * both flavors: Active Directory (with a move to a disabled OU and a password reset) and
 * OpenLDAP (ppolicy lock, member and memberUid groups).
 */
import { ldapConfigSchema, ldapModule } from '../providers/ldap/index.ts';
import { LDAP_SANDBOX_AD_BASE, LDAP_SANDBOX_OPENLDAP_BASE } from '../providers/ldap/sandbox-credentials.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import type { RunningSandbox } from '../providers/sandbox/kit.ts';
import { runConformance } from './conformance/suite.ts';
import { reAddMember, reEnableAccount } from './helpers/ldap-drift.ts';

const flavors = [
  {
    flavor: 'active_directory',
    disable: { moveToOu: `OU=Disabled Users,${LDAP_SANDBOX_AD_BASE}`, resetPassword: true },
    driftGroup: `CN=Engineering,CN=Users,${LDAP_SANDBOX_AD_BASE}`,
  },
  {
    flavor: 'openldap',
    baseDn: LDAP_SANDBOX_OPENLDAP_BASE,
    disable: { resetPassword: true },
    driftGroup: `cn=engineering,ou=groups,${LDAP_SANDBOX_OPENLDAP_BASE}`,
  },
] as const;

for (const { driftGroup, ...settings } of flavors) {
  const configOf = (sandbox: RunningSandbox) => ldapConfigSchema.parse({ ...ldapModule.sandboxConfig(sandbox), ...settings });
  runConformance({
    kind: 'ldap',
    actions: ['disable_account', 'remove_groups', 'delete_account'],
    async start() {
      const sandbox = await ldapModule.startSandbox({ autoProvision: true });
      const config = configOf(sandbox);
      const provider = ldapModule.create(config, { name: `ldap-${settings.flavor}`, logger: silentLogger() });
      const badCredentials = ldapModule.create(
        { ...config, bindPassword: 'not-the-password' },
        { name: 'ldap-bad', logger: silentLogger() },
      );
      return { sandbox, provider, badCredentials };
    },
    // Drift (issue 30): an administrator's direct modify, on a connection of its own.
    undo: {
      disable_account: (account, sandbox) => reEnableAccount(configOf(sandbox), account),
      remove_groups: (account, sandbox) => reAddMember(configOf(sandbox), account, driftGroup),
    },
    noRateLimitAnswer: 'LDAP has none: a loaded directory answers busy (51)',
    readFirstWrites: {
      delete_account: [{ method: 'POST', path: /^\/ldap\/delete$/ }],
      ...(settings.flavor === 'active_directory' ? { disable_account: [{ method: 'POST', path: /^\/ldap\/modifydn$/ }] } : {}),
    },
  });
}
