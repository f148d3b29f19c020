/**
 * The Google adapter's "doors" actions (issue 32) against the sandbox, through the real
 * @googleapis/admin client: each test proves by reading the sandbox's own state, not the
 * adapter's evidence, that the door is shut.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { createGoogleProvider } from '../providers/google/adapter.ts';
import { googleConfigSchema } from '../providers/google/config.ts';
import {
  HELP_DESK_ROLE_ID,
  SANDBOX_ACCESS_TOKEN,
  SUPER_ADMIN_ROLE_ID,
  startGoogleSandbox,
  type GoogleSandbox,
} from '../providers/google/sandbox.ts';
import { PermanentError, VerificationError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext, freshSubject } from './helpers/context.ts';

let sandbox: GoogleSandbox;
let provider: Provider;

type Seed = Parameters<GoogleSandbox['state']['createUser']>[0];

async function seeded(input: Omit<Seed, 'primaryEmail'> = {}): Promise<{ subject: Subject; account: AccountRef; userId: string }> {
  const subject = freshSubject('gd');
  const user = sandbox.state.createUser({ primaryEmail: subject.emails[0]!, ...input });
  const account = await provider.resolve(subject, actionContext(subject));
  expect(account).not.toBeNull();
  return { subject, account: account!, userId: user.id };
}

beforeAll(async () => {
  sandbox = await startGoogleSandbox();
  const config = googleConfigSchema.parse({
    adminSubject: 'admin@sandbox.example.com',
    accessToken: SANDBOX_ACCESS_TOKEN,
    rootUrl: `${sandbox.url}/`,
  });
  provider = createGoogleProvider(config, { name: 'google-doors', logger: silentLogger() });
});
afterAll(async () => {
  await sandbox?.close();
});
beforeEach(() => {
  sandbox.control.setFaults({});
  sandbox.control.autoProvision = false;
});

describe('clear_recovery', () => {
  const recovery = { recoveryEmail: 'me@personal.example', recoveryPhone: '+15551234567', backupCodes: 10 };

  it('invalidates the backup codes, clears recovery email and phone, and verifies all three by read-back', async () => {
    const { subject, account, userId } = await seeded(recovery);
    const ctx = actionContext(subject);
    const result = await provider.actions.clear_recovery!.execute(account, ctx);
    expect(result.evidence).toEqual({ backupCodes: 'invalidated', recoveryEmailCleared: true, recoveryPhoneCleared: true });
    const user = sandbox.state.users.get(userId)!;
    expect(user.backupCodes).toEqual([]);
    expect(user.recoveryEmail).toBe('');
    expect(user.recoveryPhone).toBe('');
    expect(await provider.actions.clear_recovery!.verify(account, ctx)).toEqual({
      backupCodesRemaining: 0,
      recoveryEmail: 'empty',
      recoveryPhone: 'empty',
    });
    // Neither the codes nor the personal addresses reach the evidence.
    expect(JSON.stringify(result.evidence)).not.toMatch(/personal|5551234567/);
  });

  it('a repeat sends no users.update for fields already empty', async () => {
    const { subject, account, userId } = await seeded(recovery);
    const ctx = actionContext(subject);
    await provider.actions.clear_recovery!.execute(account, ctx);
    const again = await provider.actions.clear_recovery!.execute(account, ctx);
    expect(again.evidence).toMatchObject({ recoveryEmailCleared: false, recoveryPhoneCleared: false });
    expect(sandbox.control.writes.get(`users.update:${userId}`)).toBe(1);
    await provider.actions.clear_recovery!.verify(account, ctx);
  });

  it('on a suspended user with codes left: Google refuses, and the task fails permanently saying why', async () => {
    const { subject, account, userId } = await seeded({ ...recovery, suspended: true });
    const error = await provider.actions.clear_recovery!.execute(account, actionContext(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/already suspended and still has 10 backup codes/);
    expect(sandbox.state.users.get(userId)!.backupCodes).toHaveLength(10);
    expect(sandbox.state.users.get(userId)!.suspended).toBe(true);
  });

  it('on a suspended user without codes: the recovery fields are still cleared', async () => {
    const { subject, account, userId } = await seeded({ recoveryEmail: 'me@personal.example', suspended: true });
    const ctx = actionContext(subject);
    const result = await provider.actions.clear_recovery!.execute(account, ctx);
    expect(result.evidence).toEqual({
      backupCodes: 'none (user suspended, no codes)',
      recoveryEmailCleared: true,
      recoveryPhoneCleared: false,
    });
    expect(sandbox.state.users.get(userId)!.recoveryEmail).toBe('');
    await provider.actions.clear_recovery!.verify(account, ctx);
  });

  it('verify reports what remains when the sandbox lies', async () => {
    const { subject, account } = await seeded(recovery);
    const ctx = actionContext(subject);
    sandbox.control.setFaults({ lyingRate: 1 });
    await provider.actions.clear_recovery!.execute(account, ctx);
    sandbox.control.setFaults({});
    const error = await provider.actions.clear_recovery!.verify(account, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toEqual({ backupCodes: 10, recoveryEmailSet: true, recoveryPhoneSet: true });
  });

  it('autoProvision gives a leaver backup codes and recovery fields to remove', () => {
    const user = sandbox.state.autoProvision(freshSubject('auto').emails[0]!);
    expect(user.backupCodes).toHaveLength(10);
    expect(user.recoveryEmail).not.toBe('');
    expect(user.recoveryPhone).toMatch(/^\+\d+$/);
  });
});

describe('remove_mfa', () => {
  it('turns 2-Step Verification off once and verifies isEnrolledIn2Sv false; a repeat is already done', async () => {
    const { subject, account, userId } = await seeded({ twoStep: true });
    const ctx = actionContext(subject);
    const result = await provider.actions.remove_mfa!.execute(account, ctx);
    expect(result.evidence).toEqual({ turnOff: 'sent', isEnforcedIn2Sv: false, alreadyDone: false });
    expect(sandbox.state.users.get(userId)!.enrolledIn2Sv).toBe(false);
    expect(await provider.actions.remove_mfa!.verify(account, ctx)).toEqual({ isEnrolledIn2Sv: false, isEnforcedIn2Sv: false });
    const again = await provider.actions.remove_mfa!.execute(account, ctx);
    expect(again.evidence).toEqual({ isEnrolledIn2Sv: false, alreadyDone: true });
    expect(sandbox.control.writes.get(`twoStepVerification.turnOff:${userId}`)).toBe(1);
  });

  it('verify fails with the observed flag when the sandbox lies', async () => {
    const { subject, account, userId } = await seeded({ twoStep: true });
    const ctx = actionContext(subject);
    sandbox.control.setFaults({ lyingRate: 1 });
    await provider.actions.remove_mfa!.execute(account, ctx);
    sandbox.control.setFaults({});
    expect(sandbox.state.users.get(userId)!.enrolledIn2Sv).toBe(true);
    const error = await provider.actions.remove_mfa!.verify(account, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toEqual({ isEnrolledIn2Sv: true });
  });

  it('autoProvision enrols a leaver in 2-Step Verification', () => {
    expect(sandbox.state.autoProvision(freshSubject('auto').emails[0]!).enrolledIn2Sv).toBe(true);
  });
});

describe('remove_admin_roles', () => {
  it('revokes super admin, deletes every role assignment, records them, and verifies none is left', async () => {
    const { subject, account, userId } = await seeded({ superAdmin: true, adminRoles: 2 });
    const ctx = actionContext(subject);
    const result = await provider.actions.remove_admin_roles!.execute(account, ctx);
    expect(result.evidence.superAdminRevoked).toBe(true);
    expect(result.evidence.alreadyDone).toBe(false);
    // makeAdmin(false) took the super admin assignment; the two help desk ones were deleted.
    expect(result.evidence.rolesRemoved).toEqual([
      expect.objectContaining({ roleId: HELP_DESK_ROLE_ID, scopeType: 'CUSTOMER' }),
      expect.objectContaining({ roleId: HELP_DESK_ROLE_ID, scopeType: 'CUSTOMER' }),
    ]);
    expect(sandbox.state.users.get(userId)!.roleAssignments).toEqual([]);
    expect(sandbox.control.writes.get(`users.makeAdmin:${userId}`)).toBe(1);
    expect(sandbox.control.writes.get(`roleAssignments.delete:${userId}`)).toBe(2);
    expect(await provider.actions.remove_admin_roles!.verify(account, ctx)).toEqual({
      isAdmin: false,
      isDelegatedAdmin: false,
      roleAssignmentsRemaining: 0,
    });
    const again = await provider.actions.remove_admin_roles!.execute(account, ctx);
    expect(again.evidence).toEqual({ superAdminRevoked: false, rolesRemoved: [], alreadyDone: true });
  });

  it('verify names the roles left when the sandbox lies', async () => {
    const { subject, account } = await seeded({ superAdmin: true, adminRoles: 1 });
    const ctx = actionContext(subject);
    sandbox.control.setFaults({ lyingRate: 1 });
    await provider.actions.remove_admin_roles!.execute(account, ctx);
    sandbox.control.setFaults({});
    const error = await provider.actions.remove_admin_roles!.verify(account, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    const observed = (error as VerificationError).observed;
    expect(observed.isAdmin).toBe(true);
    expect((observed.roleAssignments as unknown[]).map((a) => (a as { roleId: string }).roleId).sort()).toEqual(
      [HELP_DESK_ROLE_ID, SUPER_ADMIN_ROLE_ID].sort(),
    );
  });

  it('autoProvision gives a leaver an admin role', () => {
    const user = sandbox.state.autoProvision(freshSubject('auto').emails[0]!);
    expect(user.roleAssignments.map((a) => a.roleId)).toEqual([HELP_DESK_ROLE_ID]);
  });
});

describe('reset_password', () => {
  it('sets a new random password each run, and verify reads changePasswordAtNextLogin but calls the password not verifiable', async () => {
    const { subject, account, userId } = await seeded();
    const ctx = actionContext(subject);
    const before = sandbox.state.users.get(userId)!.passwordDigest;
    const result = await provider.actions.reset_password!.execute(account, ctx);
    const first = sandbox.state.users.get(userId)!.passwordDigest;
    expect(first).not.toBe(before);
    expect(sandbox.state.users.get(userId)!.changePasswordAtNextLogin).toBe(true);
    const evidence = await provider.actions.reset_password!.verify(account, ctx);
    expect(evidence.changePasswordAtNextLogin).toBe(true);
    expect(evidence.password).toMatch(/^not verifiable: /);
    await provider.actions.reset_password!.execute(account, ctx);
    expect(sandbox.state.users.get(userId)!.passwordDigest).not.toBe(first);
    expect(JSON.stringify(result.evidence)).not.toMatch(/[A-Za-z0-9_-]{32}/);
  });

  it('verify fails when the write was a lie', async () => {
    const { subject, account, userId } = await seeded();
    const ctx = actionContext(subject);
    const before = sandbox.state.users.get(userId)!.passwordDigest;
    sandbox.control.setFaults({ lyingRate: 1 });
    await provider.actions.reset_password!.execute(account, ctx);
    sandbox.control.setFaults({});
    expect(sandbox.state.users.get(userId)!.passwordDigest).toBe(before);
    const error = await provider.actions.reset_password!.verify(account, ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toEqual({ changePasswordAtNextLogin: false });
  });
});
