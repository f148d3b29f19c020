/**
 * The in-house sandbox's fixed credentials: plain values, shared by the emulator and by
 * `kind.ts`, which points the adapter at a running sandbox without loading the emulator.
 */
/** Sandbox credentials, not secrets. A service token that may read and write every tenant. */
export const INHOUSE_SANDBOX_TOKEN = 'inhouse-sandbox-service-token';
