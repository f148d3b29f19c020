/**
 * The sandbox's fixed credentials and paths: plain values, shared by the emulator and by
 * `kind.ts`, which points the adapter at a running sandbox without loading the emulator.
 */
/** The API token the sandbox accepts (`Authorization: SSWS <token>`). */
export const OKTA_SANDBOX_TOKEN = '00sandbox-okta-token-not-a-secret';
