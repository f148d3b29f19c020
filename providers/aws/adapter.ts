/**
 * The AWS IAM adapter: one account's IAM users. `revoke_credentials` removes everything the
 * user signs in or signs requests with (credentials.ts); `remove_groups` takes the user out
 * of every group; `delete_account` clears what IAM requires first (credentials, groups,
 * inline and attached policies) and deletes the user. Each reads first and is proven by
 * reading back with IAM's List and Get calls.
 */
import type { AccountRef, ActionHandler, Evidence, ExecuteResult, Provider, ProviderFactoryContext } from '../contract.ts';
import { PermanentError, VerificationError } from '../contract.ts';
import { alreadyAbsent } from '../absent.ts';
import type { Subject } from '../../src/domain/types.ts';
import { IamClient, type CallContext, type IamUser } from './client.ts';
import { IAM_USER_NAME, type AwsConfig } from './config.ts';
import { readCredentials, remainingCount, remainingEvidence, revokeCredentials } from './credentials.ts';

type Lookup = AwsConfig['lookup'];
type TagLookup = Extract<Lookup, { by: 'tag' }>;

const nonBlank = (values: Array<string | undefined>) => [
  ...new Set(values.filter((v): v is string => typeof v === 'string' && v.trim() !== '').map((v) => v.trim())),
];

/** The subject's values the tag may hold, lower-cased (emails and names compare without case). */
function tagValues(subject: Subject, from: TagLookup['from']): string[] {
  const values = from === 'email' ? subject.emails : from === 'externalId' ? [subject.externalId] : [subject.userName];
  return nonBlank(values).map((v) => v.toLowerCase());
}

/** The user name a template makes for the subject; null when a placeholder has no value. */
export function renderUserName(template: string, subject: Subject): string | null {
  const email = nonBlank([...subject.emails, subject.userName]).find((v) => v.includes('@'));
  const values: Record<string, string | undefined> = {
    local: (email ?? nonBlank([subject.userName])[0])?.split('@')[0],
    email,
    userName: nonBlank([subject.userName])[0],
    externalId: nonBlank([subject.externalId])[0],
  };
  const valueOf = (key: string) => (Object.hasOwn(values, key) ? values[key] : undefined);
  const keys = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  if (keys.some((key) => !valueOf(key))) return null;
  return template.replace(/\{(\w+)\}/g, (_all, key: string) => valueOf(key) ?? '');
}

function accountOf(user: IamUser, via: Lookup['by']): AccountRef {
  return { id: user.userName, userName: user.userName, userId: user.userId, arn: user.arn, via };
}

export function createAwsProvider(config: AwsConfig, factory: ProviderFactoryContext): Provider {
  const client = new IamClient(config, factory.throttle);

  async function resolveByTag(subject: Subject, lookup: TagLookup, ctx: CallContext): Promise<AccountRef | null> {
    const wanted = new Set(tagValues(subject, lookup.from));
    if (wanted.size === 0) throw new PermanentError(`AWS IAM resolve: the subject has no ${lookup.from} to find a user by`);
    const key = lookup.key.toLowerCase();
    const matches: IamUser[] = [];
    // ListUsers returns no tags: each user's are read. Every user is read, so two users carrying the value are seen.
    for (const user of await client.listUsers(lookup.pathPrefix, ctx)) {
      const tags = await client.listUserTags(user.userName, ctx);
      if (tags?.some((t) => t.key.toLowerCase() === key && wanted.has(t.value.trim().toLowerCase()))) matches.push(user);
    }
    if (matches.length > 1) {
      throw new PermanentError(`AWS IAM resolve: ${matches.length} IAM users carry the subject's ${lookup.key} tag; refusing to guess`);
    }
    return matches[0] ? accountOf(matches[0], 'tag') : null;
  }

  async function resolveByName(subject: Subject, template: string, ctx: CallContext): Promise<AccountRef | null> {
    const name = renderUserName(template, subject);
    if (name === null) throw new PermanentError(`AWS IAM resolve: the subject lacks a value the user-name template ${template} needs`);
    if (!IAM_USER_NAME.test(name)) throw new PermanentError('AWS IAM resolve: the name the template makes is not a valid IAM user name');
    const user = await client.getUser(name, ctx);
    return user ? accountOf(user, 'userName') : null;
  }

  const revoke: ActionHandler = {
    async execute(account, ctx): Promise<ExecuteResult> {
      return { evidence: await revokeCredentials(client, account.id, ctx) };
    },
    async verify(account, ctx): Promise<Evidence> {
      const remaining = await readCredentials(client, account.id, ctx);
      if (remaining === null) return { userName: account.id, user: 'none (NoSuchEntity): no credential can remain' };
      const observed = remainingEvidence(account.id, remaining);
      if (remainingCount(remaining) > 0) {
        throw new VerificationError(`AWS IAM revoke_credentials: ${remainingCount(remaining)} credential(s) remain`, observed);
      }
      return observed;
    },
  };

  const removeGroups: ActionHandler = {
    async execute(account, ctx): Promise<ExecuteResult> {
      const groups = await client.listGroupsForUser(account.id, ctx);
      if (groups === null) return { evidence: { userName: account.id, userAbsent: true, alreadyDone: true } };
      const removed: string[] = [];
      const alreadyGone: string[] = [];
      for (const group of groups) {
        if ((await client.removeUserFromGroup(account.id, group.groupName, ctx)) === 'done') removed.push(group.groupName);
        else alreadyGone.push(group.groupName);
      }
      return { evidence: { userName: account.id, groupsRemoved: removed, alreadyGone, alreadyDone: removed.length === 0 } };
    },
    async verify(account, ctx): Promise<Evidence> {
      const groups = await client.listGroupsForUser(account.id, ctx);
      if (groups === null) return { userName: account.id, user: 'none (NoSuchEntity): in no group' };
      const observed = { userName: account.id, remainingGroups: groups.map((g) => g.groupName) };
      if (groups.length > 0) throw new VerificationError(`AWS IAM remove_groups: still in ${groups.length} group(s)`, observed);
      return observed;
    },
  };

  const deleteAccount: ActionHandler = {
    async execute(account, ctx): Promise<ExecuteResult> {
      // Read first: "deleted" and "was not there" are different facts (a repeat after a takeover sees the latter).
      const user = await client.getUser(account.id, ctx);
      if (!user) return { evidence: alreadyAbsent(account.id, ctx, 'read before delete') };
      // IAM refuses DeleteUser (DeleteConflict) while any of these remain.
      const credentials = await revokeCredentials(client, account.id, ctx);
      const groupsRemoved: string[] = [];
      for (const group of (await client.listGroupsForUser(account.id, ctx)) ?? []) {
        if ((await client.removeUserFromGroup(account.id, group.groupName, ctx)) === 'done') groupsRemoved.push(group.groupName);
      }
      const inlinePoliciesDeleted: string[] = [];
      for (const name of (await client.listUserPolicies(account.id, ctx)) ?? []) {
        if ((await client.deleteUserPolicy(account.id, name, ctx)) === 'done') inlinePoliciesDeleted.push(name);
      }
      const policiesDetached: string[] = [];
      for (const policy of (await client.listAttachedUserPolicies(account.id, ctx)) ?? []) {
        if ((await client.detachUserPolicy(account.id, policy.policyArn, ctx)) === 'done') policiesDetached.push(policy.policyArn);
      }
      if ((await client.deleteUser(account.id, ctx)) === 'gone') return { evidence: alreadyAbsent(account.id, ctx, 'delete answered 404') };
      const { userName: _name, alreadyDone: _done, ...cleared } = credentials;
      return {
        evidence: {
          userName: account.id,
          userId: user.userId,
          deleted: true,
          ...cleared,
          groupsRemoved,
          inlinePoliciesDeleted,
          policiesDetached,
        },
      };
    },
    async verify(account, ctx): Promise<Evidence> {
      const user = await client.getUser(account.id, ctx);
      const observed = { userName: account.id, found: user !== null };
      if (user) throw new VerificationError('AWS IAM delete_account: the user still exists', observed);
      return observed;
    },
  };

  return {
    kind: 'aws',
    name: factory.name,
    resolve(subject, ctx) {
      const { lookup } = config;
      return lookup.by === 'tag' ? resolveByTag(subject, lookup, ctx) : resolveByName(subject, lookup.template, ctx);
    },
    actions: { revoke_credentials: revoke, remove_groups: removeGroups, delete_account: deleteAccount },
    async validate(ctx) {
      await client.probe({ signal: ctx.signal, now: () => new Date() });
    },
  };
}
