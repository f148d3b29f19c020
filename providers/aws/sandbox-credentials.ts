/**
 * The sandbox's fixed access keys: plain values, shared by the emulator and by `kind.ts`,
 * which points the adapter at a running sandbox without loading the emulator. Sandbox
 * credentials, not secrets; the emulator checks every request's SigV4 signature with them.
 */
/** An administrator's key: every call the adapter makes. */
export const AWS_SANDBOX_ACCESS_KEY_ID = 'AKIASANDBOXADMIN0001';
export const AWS_SANDBOX_SECRET_ACCESS_KEY = 'sandbox/admin/secret/key/0000000000000001';
/** A key that may read (List*, Get*) but whose every write is refused with AccessDenied. */
export const AWS_SANDBOX_READ_ONLY_ACCESS_KEY_ID = 'AKIASANDBOXREADONLY1';
export const AWS_SANDBOX_READ_ONLY_SECRET_ACCESS_KEY = 'sandbox/read/only/secret/key/000000000002';
/** The sandbox's account: ARNs it answers carry it. */
export const AWS_SANDBOX_ACCOUNT_ID = '123456789012';
