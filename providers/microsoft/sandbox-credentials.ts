/**
 * The sandbox's fixed credentials and paths: plain values, shared by the emulator and by
 * `kind.ts`, which points the adapter at a running sandbox without loading the emulator.
 */
export const SANDBOX_TENANT_ID = 'sandbox-tenant';
export const SANDBOX_CLIENT_ID = '7d0c0a4e-0000-4000-8000-5a4db0c11e47';
/** The one secret the sandbox accepts. A sandbox credential, not a real one. */
export const SANDBOX_CLIENT_SECRET = 'sandbox-client-secret';
