/**
 * clear_recovery: the self-service ways back into a Google account that outlive a
 * suspension. Backup verification codes are invalidated and the recovery email and phone
 * cleared. Google refuses to process backup codes on a suspended user (GAM documents
 * "User is suspended. You must unsuspend to process backupcodes"), so this step is meant to
 * run before disable_account; on an already suspended user it fails permanently and says
 * why, because unsuspending to clean up would reopen the account.
 */
import {
  PermanentError,
  VerificationError,
  type AccountRef,
  type ActionContext,
  type ActionHandler,
  type Evidence,
  type ExecuteResult,
} from '../contract.ts';
import type { GoogleActionKit, GoogleUser } from './action-kit.ts';
import { httpStatus } from './errors.ts';

export function clearRecoveryHandler(kit: GoogleActionKit): ActionHandler {
  return {
    execute: (account, ctx) => clearRecovery(kit, account, ctx),
    verify: (account, ctx) => verifyRecoveryCleared(kit, account, ctx),
  };
}

async function clearRecovery(kit: GoogleActionKit, account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> {
  const { signal } = ctx;
  const userKey = account.id;
  // The invalidation goes first, before any read: it is idempotent (a repeat on a user
  // without codes changes nothing), and it must beat a disable_account running beside
  // this step, after which Google refuses it.
  const codes = await invalidateBackupCodes(kit, account, signal);
  const user = await kit.requireUser(account, signal);
  const hadEmail = isSet(user.recoveryEmail);
  const hadPhone = isSet(user.recoveryPhone);
  if (hadEmail || hadPhone) {
    // users.update has patch semantics: only the two recovery fields change; an empty
    // string clears a string field.
    await kit.call('users.update', () =>
      kit.api.directory.users.update({ userKey, requestBody: { recoveryEmail: '', recoveryPhone: '' } }, { signal }),
    );
  }
  // The codes and the addresses are the leaver's secrets and personal data: only what was
  // done, and booleans, go into the evidence.
  return { evidence: { backupCodes: codes, recoveryEmailCleared: hadEmail, recoveryPhoneCleared: hadPhone } };
}

/**
 * verificationCodes.invalidate. Refused (400) on a suspended user: then the user's codes
 * are counted, and none left is the wanted state, while codes left is a PermanentError.
 */
async function invalidateBackupCodes(
  kit: GoogleActionKit,
  account: AccountRef,
  signal: AbortSignal,
): Promise<'invalidated' | 'none (user suspended, no codes)'> {
  try {
    await kit.api.directory.verificationCodes.invalidate({ userKey: account.id }, { signal });
    return 'invalidated';
  } catch (error) {
    if (httpStatus(error) !== 400) throw kit.toError(error, 'verificationCodes.invalidate');
    const user = await kit.requireUser(account, signal);
    if (user.suspended !== true) throw kit.toError(error, 'verificationCodes.invalidate');
    const left = await backupCodeCount(kit, account.id, signal);
    if (left > 0) throw suspendedWithCodes(account.id, left);
    return 'none (user suspended, no codes)';
  }
}

async function verifyRecoveryCleared(kit: GoogleActionKit, account: AccountRef, ctx: ActionContext): Promise<Evidence> {
  const user = await kit.requireUser(account, ctx.signal);
  const codes = await backupCodeCount(kit, account.id, ctx.signal);
  const remaining = { backupCodes: codes, recoveryEmailSet: isSet(user.recoveryEmail), recoveryPhoneSet: isSet(user.recoveryPhone) };
  if (codes > 0 || remaining.recoveryEmailSet || remaining.recoveryPhoneSet) {
    throw new VerificationError('google: backup codes or recovery email/phone remain after clear_recovery', remaining);
  }
  return { backupCodesRemaining: 0, recoveryEmail: 'empty', recoveryPhone: 'empty' };
}

/** verificationCodes.list: the user's current valid backup codes (only their number is kept). */
async function backupCodeCount(kit: GoogleActionKit, userKey: string, signal: AbortSignal): Promise<number> {
  const list = await kit.call('verificationCodes.list', () => kit.api.directory.verificationCodes.list({ userKey }, { signal }));
  return (list.items ?? []).length;
}

function isSet(value: GoogleUser['recoveryEmail']): boolean {
  return typeof value === 'string' && value !== '';
}

function suspendedWithCodes(userKey: string, codes: number): PermanentError {
  return new PermanentError(
    `google clear_recovery: user ${userKey} is already suspended and still has ${codes} backup codes; Google refuses to ` +
      'invalidate them on a suspended user. Run clear_recovery before disable_account, or invalidate them by hand ' +
      '(unsuspending to do it reopens the account)',
  );
}
