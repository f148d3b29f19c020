/**
 * The sandbox's fixed credentials and paths: plain values, shared by the emulator and by
 * `kind.ts`, which points the adapter at a running sandbox without loading the emulator.
 */
export const NOTIFY_SANDBOX_TOKEN = 'sandbox-notify-token';
