/**
 * The sandbox's fixed credentials: plain values, shared by the emulator and by `kind.ts`,
 * which points the adapter at a running sandbox without loading the emulator.
 */
/** A test-mode secret key of the sandbox's account: not a secret. */
export const STRIPE_SANDBOX_KEY = 'sk_test_deprovisiondSandbox000000';
