/**
 * The sandbox's fixed credentials and paths: plain values, shared by the emulator and by
 * `kind.ts`, which points the adapter at a running sandbox without loading the emulator.
 */
/** Where the SCIM root lives on the sandbox (targets put it under a path, e.g. `/scim/v2`). */
export const SCIM_SANDBOX_BASE_PATH = '/scim/v2';
/** The static bearer token the sandbox accepts. A sandbox credential, not a secret. */
export const SCIM_SANDBOX_TOKEN = 'scim-sandbox-bearer-token-not-a-secret';
export const SCIM_SANDBOX_CLIENT_ID = 'scim-sandbox-client';
/** The one client secret the token endpoint accepts. A sandbox credential, not a secret. */
export const SCIM_SANDBOX_CLIENT_SECRET = 'scim-sandbox-client-secret';
