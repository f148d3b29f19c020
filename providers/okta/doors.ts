/**
 * The doors a leaver could still use at Okta once the account is suspended (issue 32):
 * enrolled MFA factors, admin role assignments and a known password. A suspend is
 * reversible; these make an unsuspend hand back none of them. Each reads first where a
 * repeat would not be idempotent, and `verify` reads Okta's state back.
 */
import type { ActionContext, ActionHandler } from '../contract.ts';
import { DeprovisionError, VerificationError, withCheckpoint } from '../contract.ts';
import type { ActionName, JsonObject } from '../../src/domain/types.ts';
import type { OktaApi, OktaRoleRef } from './api.ts';
import { randomPassword } from './password.ts';

/**
 * How far Okta's clock may be behind ours when `passwordChanged` is compared with the
 * attempt's start. A password the user set themselves this shortly before the attempt
 * would pass for ours: a minute is the price of not trusting two clocks to agree.
 */
export const PASSWORD_CLOCK_SKEW_MS = 60_000;

const roleJson = (r: OktaRoleRef): JsonObject => ({ id: r.id, type: r.type, label: r.label, assignmentType: r.assignmentType });

/** Assigned to the user directly; GROUP assignments leave with the group membership (remove_groups). */
const direct = (r: OktaRoleRef) => r.assignmentType !== 'GROUP';

function removedSoFar(ctx: ActionContext): JsonObject[] {
  const earlier = ctx.checkpoint?.removedRoles;
  return Array.isArray(earlier) ? earlier.filter((r): r is JsonObject => typeof r === 'object' && r !== null && !Array.isArray(r)) : [];
}

export function createDoorActions(api: OktaApi): Partial<Record<ActionName, ActionHandler>> {
  const removeMfa: ActionHandler = {
    async execute(account, ctx) {
      // reset_factors is a lifecycle operation, not idempotent at Okta: look first, so a
      // repeat after a takeover or a lost answer finds nothing to reset.
      const factors = await api.listFactors(account.id, ctx);
      if (factors.length === 0) return { evidence: { userId: account.id, factorsReset: [], alreadyDone: true } };
      await api.resetFactors(account.id, ctx);
      return {
        evidence: {
          userId: account.id,
          factorsReset: factors.map((f) => ({ id: f.id, factorType: f.factorType, status: f.status })),
          alreadyDone: false,
        },
      };
    },
    async verify(account, ctx) {
      const factors = await api.listFactors(account.id, ctx);
      const observed = { userId: account.id, remainingFactors: factors.map((f) => ({ factorType: f.factorType, status: f.status })) };
      if (factors.length > 0) throw new VerificationError(`Okta remove_mfa: ${factors.length} factor(s) still enrolled`, observed);
      return observed;
    },
  };

  const removeAdminRoles: ActionHandler = {
    async execute(account, ctx) {
      const roles = await api.listRoles(account.id, ctx);
      const earlier = removedSoFar(ctx);
      const removed: JsonObject[] = [];
      const alreadyGone: JsonObject[] = [];
      try {
        for (const role of roles.filter(direct)) {
          if ((await api.unassignRole(account.id, role.id, ctx)) === 'removed') removed.push(roleJson(role));
          else alreadyGone.push(roleJson(role));
        }
      } catch (error) {
        // The retry lists only what is left: hand it what this attempt removed, for the evidence.
        if (error instanceof DeprovisionError) throw withCheckpoint(error, { removedRoles: [...earlier, ...removed] });
        throw error;
      }
      return {
        evidence: {
          userId: account.id,
          removedRoles: [...earlier, ...removed],
          removedByEarlierAttempt: earlier.length,
          alreadyGone,
          viaGroups: roles.filter((r) => !direct(r)).map(roleJson),
          alreadyDone: removed.length === 0 && earlier.length === 0,
        },
      };
    },
    async verify(account, ctx) {
      const roles = await api.listRoles(account.id, ctx);
      const remaining = roles.filter(direct);
      const observed = {
        userId: account.id,
        remainingRoles: remaining.map(roleJson),
        // Said so that a group-held admin role is not read as gone: it goes with remove_groups.
        viaGroups: roles.filter((r) => !direct(r)).map(roleJson),
      };
      if (remaining.length > 0) {
        throw new VerificationError(`Okta remove_admin_roles: ${remaining.length} role assignment(s) remain`, observed);
      }
      return observed;
    },
  };

  const resetPassword: ActionHandler = {
    // Not read-first: a repeat sets another random password nobody knows, the same end state.
    async execute(account, ctx) {
      const user = await api.setPassword(account.id, randomPassword(), ctx);
      return {
        evidence: {
          userId: account.id,
          passwordSet: true,
          passwordKept: false,
          passwordChanged: user.passwordChanged,
          setByAttempt: ctx.attempt,
          alreadyDone: false,
        },
      };
    },
    async verify(account, ctx) {
      const user = await api.getUser(account.id, ctx);
      if (!user) throw new VerificationError('Okta reset_password: user not found on read-back', { userId: account.id, found: false });
      const since = new Date(ctx.attemptStartedAt.getTime() - PASSWORD_CLOCK_SKEW_MS).toISOString();
      const observed = { userId: user.id, status: user.status, passwordChanged: user.passwordChanged, changedSince: since };
      if (!user.passwordChanged || user.passwordChanged < since) {
        throw new VerificationError('Okta reset_password: passwordChanged is not from this attempt', observed);
      }
      return observed;
    },
  };

  return { remove_mfa: removeMfa, remove_admin_roles: removeAdminRoles, reset_password: resetPassword };
}
