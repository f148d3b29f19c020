/**
 * The sandbox's fixed credentials and paths: plain values, shared by the emulator and by
 * `kind.ts`, which points the adapter at a running sandbox without loading the emulator.
 */
export const CAEP_SANDBOX_ISSUER = 'https://deprovisiond.sandbox.invalid';
export const CAEP_SANDBOX_AUDIENCE = 'https://receiver.sandbox.invalid';
export const CAEP_SANDBOX_KID = 'sandbox-key-1';
