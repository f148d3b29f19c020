/**
 * remove_mfa: turns off the leaver's 2-Step Verification, so that a phone or key they keep
 * is no longer a factor of the account (a suspension alone hands it back on unsuspend).
 * The Directory API shows enrolment as `isEnrolledIn2Sv` on the user; there is no list of
 * the individual factors to read.
 */
import {
  VerificationError,
  type AccountRef,
  type ActionContext,
  type ActionHandler,
  type Evidence,
  type ExecuteResult,
} from '../contract.ts';
import type { GoogleActionKit } from './action-kit.ts';

export function removeMfaHandler(kit: GoogleActionKit): ActionHandler {
  return {
    execute: (account, ctx) => turnOffTwoStep(kit, account, ctx),
    verify: (account, ctx) => verifyTwoStepOff(kit, account, ctx),
  };
}

async function turnOffTwoStep(kit: GoogleActionKit, account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> {
  // Read first: turnOff on a user who is not enrolled is a wasted write at best.
  const user = await kit.requireUser(account, ctx.signal);
  if (user.isEnrolledIn2Sv === false) return { evidence: { isEnrolledIn2Sv: false, alreadyDone: true } };
  await kit.call('twoStepVerification.turnOff', () =>
    kit.api.directory.twoStepVerification.turnOff({ userKey: account.id }, { signal: ctx.signal }),
  );
  return { evidence: { turnOff: 'sent', isEnforcedIn2Sv: user.isEnforcedIn2Sv ?? null, alreadyDone: false } };
}

async function verifyTwoStepOff(kit: GoogleActionKit, account: AccountRef, ctx: ActionContext): Promise<Evidence> {
  const user = await kit.requireUser(account, ctx.signal);
  // Only an explicit false is proof: a missing field says nothing.
  if (user.isEnrolledIn2Sv !== false) {
    throw new VerificationError('google: the user is still enrolled in 2-Step Verification (or the field was not returned)', {
      isEnrolledIn2Sv: user.isEnrolledIn2Sv ?? null,
    });
  }
  return { isEnrolledIn2Sv: false, isEnforcedIn2Sv: user.isEnforcedIn2Sv ?? null };
}
