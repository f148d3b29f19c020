/**
 * The sandbox's fixed organization and tokens: plain values, shared by the emulator and by
 * `kind.ts`, which points the adapter at a running sandbox without loading the emulator.
 */
export const GITHUB_SANDBOX_ORG = 'deprovisiond-sandbox';
/** Sandbox credentials, not secrets. An owner's token: reads and writes. */
export const GITHUB_SANDBOX_TOKEN = 'github-sandbox-owner-token';
/** A token that may read but lacks Members: write and Administration: write (403 on every write). */
export const GITHUB_SANDBOX_READ_ONLY_TOKEN = 'github-sandbox-read-only-token';
