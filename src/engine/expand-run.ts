/**
 * An `expand_members` attempt: list the organization's people at the provider (its tenant
 * key there, else its email domains) and hand them to the store, which creates each member's
 * tasks with the result (src/store/sql/member-tasks.ts). It runs when the step is due, at the
 * effective time: people added during the notice period are in the list.
 */
import type { ActionContext, Provider } from '../../providers/contract.ts';
import { PermanentError } from '../domain/errors.ts';
import { expansionActions, InvalidExpansionError, MAX_MEMBERS_PER_EXPANSION, type ExpandedMember } from '../domain/members.ts';
import type { JsonObject, Termination } from '../domain/types.ts';
import type { AttemptOutcome } from '../store/store.ts';

export async function expandMembers(
  provider: Provider,
  termination: Termination,
  ctx: ActionContext,
): Promise<Extract<AttemptOutcome, { state: 'succeeded' | 'skipped' }>> {
  const organization = termination.subject.organization;
  if (!organization) {
    const evidence: JsonObject = { skipped: 'the subject is not an organization: no members to list' };
    return { state: 'skipped', evidence, account: null };
  }
  let actions;
  try {
    actions = expansionActions(ctx.params);
  } catch (error) {
    if (error instanceof InvalidExpansionError) throw new PermanentError(error.message);
    throw error;
  }
  const unsupported = actions.filter((action) => !provider.actions[action]);
  if (unsupported.length > 0) throw new PermanentError(`provider ${provider.name} does not support ${unsupported.join(', ')}`);
  if (!provider.listMembers) throw new PermanentError(`provider ${provider.name} cannot list an organization's members`);

  const members = new Map<string, ExpandedMember>();
  for await (const found of provider.listMembers(organization, ctx)) {
    // Pages can overlap when the provider's list changes while it is read: one member once.
    if (members.has(found.account.id)) continue;
    if (members.size >= MAX_MEMBERS_PER_EXPANSION) {
      throw new PermanentError(`more than ${MAX_MEMBERS_PER_EXPANSION} members at ${provider.name}: split the organization`);
    }
    members.set(found.account.id, { id: found.account.id, email: found.email, login: found.login, account: found.account });
  }
  const listed = [...members.values()];
  const evidence: JsonObject = {
    organization: organization.id,
    domains: organization.domains,
    tenants: organization.tenants ?? {},
    members: listed.length,
    memberList: listed.map((m) => ({ id: m.id, email: m.email, login: m.login })),
    actions,
    listedAt: ctx.now().toISOString(),
  };
  return { state: 'succeeded', evidence, account: null, expansion: { members: listed, actions } };
}
