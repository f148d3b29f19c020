/**
 * The sandbox's fixed credentials and paths: plain values, shared by the emulator and by
 * `kind.ts`, which points the adapter at a running sandbox without loading the emulator.
 */
/** The bearer token the sandbox accepts. Loopback only; not a secret. */
export const SANDBOX_ACCESS_TOKEN = 'sandbox-google-access-token';
export const SANDBOX_ADMIN = 'admin@sandbox.example.com';
