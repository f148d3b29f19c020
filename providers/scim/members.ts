/**
 * An organization's people at a SCIM application (issue 28): the users whose enterprise
 * `organization` is the client's value there (`tenants.scim`), else the users with an email
 * at one of its domains (`emails.value ew "@domain"`). Paged by startIndex and count. Each
 * answer is checked here as well: a target that ignores a filter it does not support lists
 * every user, and acting on that list would disable strangers.
 */
import type { ActionContext, Member } from '../contract.ts';
import { PermanentError } from '../contract.ts';
import type { Organization } from '../../src/domain/types.ts';
import { ENTERPRISE_USER, type ScimClient, type ScimUser } from './client.ts';
import type { Lookup } from './filter.ts';
import { scimString } from './filter.ts';

/** Users per page: the count most targets accept (many cap it at 100). */
const PAGE = 100;
/** Pages per listing at most: a target that never ends its list must not hold the attempt for ever. */
const MAX_PAGES = 1_000;

export async function* listScimMembers(
  client: ScimClient,
  lookup: Lookup,
  organization: Organization,
  ctx: ActionContext,
): AsyncIterable<Member> {
  const value = organization.tenants?.scim;
  const searches: Array<{ filter: string; belongs: (u: ScimUser) => boolean }> =
    value !== undefined
      ? [{ filter: `${ENTERPRISE_USER}:organization eq ${scimString(value)}`, belongs: (u) => u.organization === value }]
      : organization.domains.map((domain) => {
          const suffix = `@${domain.toLowerCase()}`;
          return {
            filter: `emails.value ew ${scimString(suffix)}`,
            belongs: (u) => u.emails.some((e) => e.toLowerCase().endsWith(suffix)),
          };
        });
  for (const { filter, belongs } of searches) {
    for (let page = 0, startIndex = 1; ; page += 1) {
      if (page >= MAX_PAGES) throw new PermanentError(`SCIM list Users: more than ${MAX_PAGES} pages for organization ${organization.id}`);
      const { total, users } = await client.listPage(filter, startIndex, PAGE, ctx);
      const strangers = users.filter((u) => !belongs(u));
      if (strangers.length > 0) {
        throw new PermanentError(`SCIM list Users: the target answered ${strangers.length} user(s) outside the filter (is it supported?)`);
      }
      // Already inactive users cannot sign in: nothing to revoke.
      for (const user of users) {
        if (user.active === false) continue;
        yield {
          account: { id: user.id, userName: user.userName, active: user.active, lookup },
          email: user.emails[0] ?? null,
          login: user.userName,
        };
      }
      startIndex += users.length;
      if (users.length === 0 || startIndex > total) break;
    }
  }
}
