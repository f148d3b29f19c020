/**
 * The sandbox's fixed credentials and addresses: plain values, shared by the emulator and by
 * `kind.ts`, which points the adapter at a running sandbox without loading the emulator.
 */
export const EMAIL_SANDBOX_USER = 'deprovisiond';
export const EMAIL_SANDBOX_PASSWORD = 'sandbox-smtp-password';
export const EMAIL_SANDBOX_FROM = 'offboarding@sandbox.example';
export const EMAIL_SANDBOX_ACCOUNT_OWNER = 'account-owner@sandbox.example';
