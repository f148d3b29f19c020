/**
 * The outbound SCIM 2.0 adapter: one instance per target application. It finds the user
 * with a filter, deactivates with PATCH (in the form the target wants), optionally
 * deletes, and proves each action by reading the user back. What counts as proof is
 * per target: `active: false`, or the user being gone (404).
 */
import type { AccountRef, ActionHandler, Evidence, ExecuteResult, Provider, ProviderFactoryContext } from '../contract.ts';
import { PermanentError, VerificationError } from '../contract.ts';
import { alreadyAbsent } from '../absent.ts';
import type { Subject } from '../../src/domain/types.ts';
import { ScimClient, type ScimUser } from './client.ts';
import type { ScimConfig } from './config.ts';
import type { Lookup } from './filter.ts';
import { createTokenSource } from './token.ts';
import { listScimMembers } from './members.ts';

/** The values of the subject the configured lookup tries, in order. */
function lookupValues(subject: Subject, lookup: Lookup): string[] {
  const values = lookup === 'userName' ? [subject.userName] : lookup === 'externalId' ? [subject.externalId] : subject.emails;
  return [...new Set(values.filter((v): v is string => typeof v === 'string' && v !== ''))];
}

/**
 * A target that does not support a filter may ignore it and list every user; with one
 * user in the tenant that looks like a match. Acting on it would disable a stranger, so
 * the answer must carry the value that was asked for.
 */
function matches(user: ScimUser, lookup: Lookup, value: string): boolean {
  switch (lookup) {
    // userName and emails are case-insensitive in the core schema (caseExact false); externalId is case-exact.
    case 'userName':
      return user.userName?.toLowerCase() === value.toLowerCase();
    case 'email':
      return user.emails.some((e) => e.toLowerCase() === value.toLowerCase());
    case 'externalId':
      return user.externalId === value;
  }
}

function userEvidence(user: ScimUser): { userId: string; userName: string | null; active: boolean | null } {
  return { userId: user.id, userName: user.userName, active: user.active };
}

export function createScimProvider(config: ScimConfig, factory: ProviderFactoryContext): Provider {
  const client = new ScimClient(config, createTokenSource(config.auth, config.requestTimeoutMs), factory.throttle);
  const verifyMode = config.verify;

  const disableAccount: ActionHandler = {
    async execute(account, ctx): Promise<ExecuteResult> {
      const user = await client.getUser(account.id, ctx);
      if (!user) {
        return { evidence: { userId: account.id, httpStatus: 404, verify: verifyMode, alreadyDone: true } };
      }
      if (verifyMode === 'inactive' && user.active === false) {
        return { evidence: { ...userEvidence(user), verify: verifyMode, alreadyDone: true } };
      }
      // In `gone` mode a user still listed is PATCHed even when it shows active:false:
      // the PATCH is what makes such targets remove the identity, and it is idempotent.
      const outcome = await client.deactivate(user.id, ctx);
      return {
        evidence: {
          userId: user.id,
          userName: user.userName,
          previousActive: user.active,
          patchForm: config.patchForm,
          verify: verifyMode,
          // 404 on the PATCH: the target removed the user in between; nothing was changed by us.
          alreadyDone: outcome === 'gone',
        },
      };
    },
    async verify(account, ctx): Promise<Evidence> {
      const user = await client.getUser(account.id, ctx);
      if (!user) return { userId: account.id, httpStatus: 404, verify: verifyMode };
      if (verifyMode === 'gone') {
        throw new VerificationError(
          `SCIM disable_account: user still exists (active: ${String(user.active)}); this target is configured with verify: gone, which expects 404`,
          userEvidence(user),
        );
      }
      if (user.active !== false) {
        throw new VerificationError(`SCIM disable_account: user shows active: ${String(user.active)}`, userEvidence(user));
      }
      return { ...userEvidence(user), verify: verifyMode };
    },
  };

  const deleteAccount: ActionHandler = {
    async execute(account, ctx) {
      // Read first: after a takeover or a lost answer the user is already gone, and the repeat
      // records that it found it absent instead of sending a DELETE (irreversible at some
      // targets, such as Atlassian) for nothing.
      if (!(await client.getUser(account.id, ctx))) return { evidence: alreadyAbsent(account.id, ctx, 'read before delete') };
      if ((await client.delete(account.id, ctx)) === 'gone') return { evidence: alreadyAbsent(account.id, ctx, 'delete answered 404') };
      return { evidence: { userId: account.id, deleted: true, deletedByAttempt: ctx.attempt, alreadyDone: false } };
    },
    async verify(account, ctx) {
      const user = await client.getUser(account.id, ctx);
      if (user) throw new VerificationError('SCIM delete_account: user still exists', userEvidence(user));
      return { userId: account.id, httpStatus: 404 };
    },
  };

  return {
    kind: 'scim',
    name: factory.name,
    async resolve(subject, ctx) {
      const values = lookupValues(subject, config.lookup);
      if (values.length === 0) {
        // Skipping would leave the account active without anyone noticing: fail visibly instead.
        throw new PermanentError(`SCIM resolve: the subject has no ${config.lookup} to look the user up by`);
      }
      for (const value of values) {
        const { total, users } = await client.findUsers(config.lookup, value, ctx);
        if (total > 1) {
          throw new PermanentError(`SCIM resolve: ${total} users match the ${config.lookup} filter; refusing to act on an ambiguous match`);
        }
        const [user] = users;
        if (!user) continue;
        if (!matches(user, config.lookup, value)) {
          throw new PermanentError(
            `SCIM resolve: the target answered a user whose ${config.lookup} does not match the filter (is this filter supported?)`,
          );
        }
        return { id: user.id, userName: user.userName, active: user.active, lookup: config.lookup } satisfies AccountRef;
      }
      return null;
    },
    actions: config.allowDelete ? { disable_account: disableAccount, delete_account: deleteAccount } : { disable_account: disableAccount },
    listMembers: (organization, ctx) => listScimMembers(client, config.lookup, organization, ctx),
    async validate(ctx) {
      await client.probe({ signal: ctx.signal, now: () => new Date() });
    },
  };
}
