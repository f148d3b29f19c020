/**
 * The LDAP / Active Directory adapter. Accounts are found by an equality match on a
 * configured attribute and then kept by a key that survives moves and renames (AD's
 * objectGUID, OpenLDAP's entryUUID); every action reads the entry by that key first, writes
 * only what is not done yet, and is verified by reading the entry back.
 *
 * - disable_account: optionally a random password the daemon forgets, then the flavor's
 *   disable (AD: ACCOUNTDISABLE and accountExpires; LDAP: the lock attribute), then
 *   optionally a move to `disable.moveToOu`;
 * - remove_groups: the account's value is deleted from every group that lists it;
 * - delete_account: the entry is deleted (read first: a repeat finds it gone).
 */
import type { AccountRef, ActionContext, ActionHandler, Evidence, ExecuteResult, Provider, ProviderFactoryContext } from '../contract.ts';
import { PermanentError, VerificationError } from '../contract.ts';
import type { Subject } from '../../src/domain/types.ts';
import { activeDirectory } from './active-directory.ts';
import type { LdapConfig } from './config.ts';
import { errorForLdap } from './errors.ts';
import { firstRdn, isWithin, parentDn, randomPassword, sameDn, type Flavor } from './flavor.ts';
import { LdaptsSession } from './ldapts-session.ts';
import { openLdap } from './openldap.ts';
import { SandboxSession } from './sandbox-session.ts';
import { LDAP_RESULT, LdapResultError, values, type LdapEntry, type LdapFilter, type LdapSession } from './session.ts';

/** Directory clocks and ours differ; a password set this long before the attempt started still counts as this attempt's. */
const CLOCK_SKEW_MS = 5 * 60_000;

function lookupValues(subject: Subject, from: LdapConfig['lookup']['from']): string[] {
  const raw =
    from === 'email'
      ? subject.emails
      : from === 'userName'
        ? [subject.userName]
        : from === 'userNameLocalPart'
          ? [subject.userName?.split('@')[0]]
          : [subject.externalId];
  return [...new Set(raw.filter((v): v is string => typeof v === 'string' && v !== ''))];
}

export function createLdapSession(config: LdapConfig, factory: Pick<ProviderFactoryContext, 'throttle'>): LdapSession {
  return new URL(config.url).protocol === 'http:'
    ? new SandboxSession(config, { throttle: factory.throttle })
    : new LdaptsSession(config, { throttle: factory.throttle });
}

export function createLdapProvider(
  config: LdapConfig,
  factory: ProviderFactoryContext,
  session = createLdapSession(config, factory),
): Provider {
  const flavor: Flavor = config.flavor === 'active_directory' ? activeDirectory : openLdap;
  const accountAttributes = flavor.accountAttributes(config);
  const binary = flavor.keyBinary ? [flavor.keyAttribute] : [];
  // A moved entry may sit outside baseDn; its key is looked for there too.
  const ou = config.disable.moveToOu;
  const keyBases = [config.baseDn, ...(ou && !isWithin(ou, config.baseDn) ? [ou] : [])];

  async function find(filter: LdapFilter, signal: AbortSignal, base = config.baseDn): Promise<LdapEntry[]> {
    return session.search({ base, scope: 'sub', filter, attributes: accountAttributes, binaryAttributes: binary }, signal);
  }

  /** The account's entry as it is now, or null when no entry holds its key any more. */
  async function read(account: AccountRef, signal: AbortSignal): Promise<LdapEntry | null> {
    const filter: LdapFilter = { equals: flavor.keyAttribute, value: account.id, ...(flavor.keyBinary ? { binary: true } : {}) };
    for (const base of keyBases) {
      const found = await find(filter, signal, base);
      if (found.length > 1)
        throw new PermanentError(`LDAP: ${found.length} entries hold ${flavor.keyAttribute} ${account.id}; refusing to act`);
      if (found[0]) return found[0];
    }
    return null;
  }

  /** Runs one step of an action with LDAP failures turned into typed errors. */
  async function step<T>(operation: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      throw errorForLdap(error, operation);
    }
  }

  /**
   * One step of disable or remove_groups on the account's entry as it is now. An entry gone
   * already (deleted by someone else, or by this playbook's delete) is the state both want.
   */
  function onEntry<T>(
    operation: string,
    gone: (account: AccountRef) => T,
    body: (entry: LdapEntry, account: AccountRef, ctx: ActionContext) => Promise<T>,
  ) {
    return (account: AccountRef, ctx: ActionContext): Promise<T> =>
      step(operation, async () => {
        const entry = await read(account, ctx.signal);
        return entry ? body(entry, account, ctx) : gone(account);
      });
  }
  const goneBeforeExecute = (account: AccountRef): ExecuteResult => ({ evidence: { id: account.id, absent: true, alreadyDone: true } });
  const goneAtVerify = (account: AccountRef): Evidence => ({ id: account.id, absent: true });

  const disableAccount: ActionHandler = {
    execute: onEntry('disable_account', goneBeforeExecute, async (entry, account, ctx): Promise<ExecuteResult> => {
      const done: string[] = [];
      // The password first: OpenLDAP's ppolicy deletes pwdAccountLockedTime when a password
      // is changed (seen against slapd 2.5), so a lock written before it would be undone;
      // for the same reason the entry is read again before deciding whether to lock.
      let current = entry;
      if (config.disable.resetPassword) {
        await session.modify(entry.dn, [flavor.passwordChange(randomPassword())], ctx.signal);
        done.push('passwordReset');
        current = (await read(account, ctx.signal)) ?? entry;
      }
      const changes = flavor.disableChanges(current, config, ctx.now());
      if (changes.length > 0) {
        await session.modify(entry.dn, changes, ctx.signal);
        done.push(...changes.map((c) => c.attribute));
      }
      let dn = entry.dn;
      if (ou && !sameDn(parentDn(dn), ou)) {
        const target = `${firstRdn(dn)},${ou}`;
        await session.modifyDn(dn, target, ctx.signal);
        dn = target;
        done.push('moved');
      }
      // Another random password alone cuts nothing new: the account was already disabled.
      const alreadyDone = done.every((write) => write === 'passwordReset');
      return { evidence: { dn, written: done, alreadyDone } };
    }),
    verify: onEntry('disable_account verify', goneAtVerify, async (entry, _account, ctx): Promise<Evidence> => {
      const problems = flavor.notDisabled(entry, config, ctx.now());
      if (ou && !sameDn(parentDn(entry.dn), ou)) problems.push(`entry is not under ${ou}`);
      const passwordSetAt = config.disable.resetPassword ? flavor.passwordSetAt(entry) : null;
      if (config.disable.resetPassword && (!passwordSetAt || passwordSetAt.getTime() < ctx.attemptStartedAt.getTime() - CLOCK_SKEW_MS)) {
        problems.push(`password last set ${passwordSetAt?.toISOString() ?? 'never (or not readable)'}, before this attempt`);
      }
      // What proves the state first: the evidence's one-line summary shows its start.
      const observed: Evidence = {
        ...Object.fromEntries(flavor.disabledBy(config).map((a) => [a, values(entry, a).join(',')])),
        ...(passwordSetAt ? { passwordSetAt: passwordSetAt.toISOString() } : {}),
        dn: entry.dn,
      };
      if (problems.length > 0) throw new VerificationError(`LDAP disable_account: ${problems.join('; ')}`, observed);
      return { disabled: true, ...observed };
    }),
  };

  async function groupsOf(entry: LdapEntry, signal: AbortSignal): Promise<LdapEntry[]> {
    return session.search(
      {
        base: config.groupsBaseDn ?? config.baseDn,
        scope: 'sub',
        filter: flavor.groupFilter(entry, config),
        attributes: flavor.memberAttributes(config),
      },
      signal,
    );
  }

  const removeGroups: ActionHandler = {
    execute: onEntry('remove_groups', goneBeforeExecute, async (entry, _account, ctx): Promise<ExecuteResult> => {
      const removed: string[] = [];
      for (const group of await groupsOf(entry, ctx.signal)) {
        const changes = flavor.leaveGroup(group, entry, config);
        if (changes.length === 0) continue;
        try {
          await session.modify(group.dn, changes, ctx.signal);
          removed.push(group.dn);
        } catch (error) {
          // Another writer (or our own earlier attempt) took the value out first: the state we want.
          if (!(error instanceof LdapResultError && error.code === LDAP_RESULT.noSuchAttribute)) throw error;
        }
      }
      return { evidence: { dn: entry.dn, groupsRemoved: removed, alreadyDone: removed.length === 0 } };
    }),
    verify: onEntry('remove_groups verify', goneAtVerify, async (entry, _account, ctx): Promise<Evidence> => {
      const remaining = (await groupsOf(entry, ctx.signal)).map((g) => g.dn);
      const primaryGroupID = values(entry, 'primaryGroupID')[0];
      const observed: Evidence = {
        remainingGroups: remaining,
        ...(primaryGroupID ? { primaryGroupID, primaryGroupKept: true } : {}),
        dn: entry.dn,
      };
      if (remaining.length > 0) throw new VerificationError(`LDAP remove_groups: still a member of ${remaining.length} group(s)`, observed);
      return observed;
    }),
  };

  const deleteAccount: ActionHandler = {
    execute: (account, ctx) =>
      step('delete_account', async (): Promise<ExecuteResult> => {
        const entry = await read(account, ctx.signal);
        if (!entry)
          return { evidence: { id: account.id, deleted: false, alreadyAbsent: true, alreadyDone: true, seenByAttempt: ctx.attempt } };
        try {
          await session.delete(entry.dn, ctx.signal);
        } catch (error) {
          if (error instanceof LdapResultError && error.code === LDAP_RESULT.noSuchObject) {
            return { evidence: { dn: entry.dn, deleted: false, alreadyAbsent: true, alreadyDone: true, seenByAttempt: ctx.attempt } };
          }
          throw error;
        }
        return { evidence: { dn: entry.dn, deleted: true } };
      }),
    verify: (account, ctx) =>
      step('delete_account verify', async (): Promise<Evidence> => {
        const entry = await read(account, ctx.signal);
        if (entry) throw new VerificationError('LDAP delete_account: the entry still exists', { dn: entry.dn });
        return { id: account.id, found: false };
      }),
  };

  return {
    kind: 'ldap',
    name: factory.name,
    resolve: (subject: Subject, ctx: ActionContext) =>
      step('resolve', async (): Promise<AccountRef | null> => {
        const candidates = lookupValues(subject, config.lookup.from);
        if (candidates.length === 0)
          throw new PermanentError(`LDAP resolve: the subject has no ${config.lookup.from} to look the account up by`);
        for (const value of candidates) {
          const found = await find(
            {
              and: [
                { equals: 'objectClass', value: flavor.userClass },
                { equals: config.lookup.attribute, value },
              ],
            },
            ctx.signal,
          );
          if (found.length > 1)
            throw new PermanentError(
              `LDAP resolve: several entries match ${config.lookup.attribute}; refusing to act on an ambiguous match`,
            );
          const [entry] = found;
          if (!entry) continue;
          const key = values(entry, flavor.keyAttribute)[0];
          if (!key)
            throw new PermanentError(
              `LDAP resolve: the entry has no readable ${flavor.keyAttribute}: grant the service account read access to it`,
            );
          return { id: key, dn: entry.dn };
        }
        return null;
      }),
    actions: { disable_account: disableAccount, remove_groups: removeGroups, delete_account: deleteAccount },
    async validate(ctx) {
      await step('validate', async () => {
        const base = await session.search(
          { base: config.baseDn, scope: 'base', filter: { present: 'objectClass' }, attributes: ['1.1'] },
          ctx.signal,
        );
        if (base.length === 0)
          throw new PermanentError(
            `LDAP validate: baseDn ${config.baseDn} is not readable: check baseDn and the service account's read access`,
          );
      });
    },
    close: () => session.close(),
  };
}
