/**
 * The sandbox's fixed credentials and paths: plain values, shared by the emulator and by
 * `kind.ts`, which points the adapter at a running sandbox without loading the emulator.
 */
/** Sandbox credentials, not secrets. */
export const BRIVO_SANDBOX_API_KEY = 'brivo-sandbox-api-key';
export const BRIVO_SANDBOX_CLIENT_ID = 'brivo-sandbox-client';
export const BRIVO_SANDBOX_CLIENT_SECRET = 'brivo-sandbox-client-secret';
export const BRIVO_SANDBOX_USERNAME = 'deprovisiond-admin';
export const BRIVO_SANDBOX_PASSWORD = 'brivo-sandbox-password';
