/**
 * An organization's people at Okta (issue 28): the members of its Okta group when it named
 * one (`tenants.okta`: a group id, or the exact name of one group), else every user whose
 * email is at one of its domains. Users already DEPROVISIONED cannot sign in and are left out.
 */
import type { ActionContext, Member } from '../contract.ts';
import { PermanentError } from '../contract.ts';
import type { Organization } from '../../src/domain/types.ts';
import { quoted, type OktaApi, type OktaListedUser } from './api.ts';

/** Okta group ids are `00g` and about 17 letters and digits, no spaces: a value that looks like one is taken as an id. */
const GROUP_ID = /^00g[A-Za-z0-9]{14,20}$/;

export async function* listOktaMembers(api: OktaApi, organization: Organization, ctx: ActionContext): AsyncIterable<Member> {
  for (const user of await oktaPeople(api, organization, ctx)) {
    if (user.status === 'DEPROVISIONED') continue;
    yield { account: { id: user.id, login: user.login, status: user.status }, email: user.email, login: user.login };
  }
}

async function oktaPeople(api: OktaApi, organization: Organization, ctx: ActionContext): Promise<OktaListedUser[]> {
  const group = organization.tenants?.okta;
  if (group !== undefined) {
    const ids = GROUP_ID.test(group) ? [group] : await api.groupsNamed(group, ctx);
    if (ids.length !== 1) {
      throw new PermanentError(
        `Okta: ${ids.length === 0 ? 'no group' : `${ids.length} groups`} named ${quoted(group)} for organization ${organization.id}`,
      );
    }
    return api.groupUsers(ids[0]!, ctx);
  }
  const users: OktaListedUser[] = [];
  for (const domain of organization.domains) {
    // Okta's search has no "ends with": `co` (contains) on profile.email finds candidates,
    // and only an address that ends in exactly `@domain` is the organization's.
    const suffix = `@${domain.toLowerCase()}`;
    const found = await api.searchUsers(`profile.email co ${quoted(suffix)}`, ctx);
    users.push(...found.filter((u) => u.email?.toLowerCase().endsWith(suffix) === true));
  }
  return users;
}
