/**
 * reset_password: replaces the leaver's password with a random one nobody knows, so a
 * known password is worthless on any unsuspend. The password is generated here, sent once
 * over TLS in the users.update body (no hashFunction: Google takes it as plain text and
 * hashes it), and never stored, logged, or put in evidence or errors.
 *
 * The Directory API exposes no password-changed time, so the change itself cannot be read
 * back: verify reads `changePasswordAtNextLogin`, set in the same write, and labels the
 * password "not verifiable".
 */
import { randomBytes } from 'node:crypto';
import {
  VerificationError,
  type AccountRef,
  type ActionContext,
  type ActionHandler,
  type Evidence,
  type ExecuteResult,
} from '../contract.ts';
import type { GoogleActionKit } from './action-kit.ts';

/** 32 characters of base64url (192 random bits); Google accepts 8 to 100 characters. */
function randomPassword(): string {
  return randomBytes(24).toString('base64url');
}

export function resetPasswordHandler(kit: GoogleActionKit): ActionHandler {
  return {
    execute: (account, ctx) => resetPassword(kit, account, ctx),
    verify: (account, ctx) => verifyPasswordReset(kit, account, ctx),
  };
}

async function resetPassword(kit: GoogleActionKit, account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> {
  // No read first: a repeat sets another random password, which is as good as the first.
  await kit.call('users.update', () =>
    kit.api.directory.users.update(
      { userKey: account.id, requestBody: { password: randomPassword(), changePasswordAtNextLogin: true } },
      { signal: ctx.signal },
    ),
  );
  return { evidence: { passwordReset: 'sent (random, not kept)', changePasswordAtNextLogin: true } };
}

async function verifyPasswordReset(kit: GoogleActionKit, account: AccountRef, ctx: ActionContext): Promise<Evidence> {
  const user = await kit.requireUser(account, ctx.signal);
  if (user.changePasswordAtNextLogin !== true) {
    throw new VerificationError('google: changePasswordAtNextLogin is not set after the password reset', {
      changePasswordAtNextLogin: user.changePasswordAtNextLogin ?? null,
    });
  }
  return {
    password: 'not verifiable: the Directory API exposes no password-changed time',
    changePasswordAtNextLogin: true,
  };
}
