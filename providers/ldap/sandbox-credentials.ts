/**
 * The sandbox's fixed names and credentials: plain values, shared by the emulator and by
 * `kind.ts`, which points the adapter at a running sandbox without loading the emulator.
 */
/** The Active Directory naming context (the default flavor). */
export const LDAP_SANDBOX_AD_BASE = 'DC=corp,DC=example,DC=com';
/** The OpenLDAP naming context: a provider block with `flavor: openldap` names it as its baseDn. */
export const LDAP_SANDBOX_OPENLDAP_BASE = 'dc=example,dc=org';
/** Sandbox credentials, not secrets. */
export const LDAP_SANDBOX_BIND_DN = 'CN=svc-deprovisiond,CN=Users,DC=corp,DC=example,DC=com';
export const LDAP_SANDBOX_BIND_PASSWORD = 'ldap-sandbox-password';
/** The emulator's operations are POSTed to `${url}${LDAP_SANDBOX_PATH}/<operation>`. */
export const LDAP_SANDBOX_PATH = '/ldap';
