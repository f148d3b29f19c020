/**
 * An organization's people in Entra (issue 28): the B2B guests whose mail is at one of the
 * client's domains (`GET /users?$filter=userType eq 'Guest' and endswith(mail,'@domain')`).
 * `endswith` is an advanced query: Graph answers it only with `ConsistencyLevel: eventual`
 * and `$count=true`, on every page. Disabled guests cannot sign in and are left out.
 */
import type { ActionContext, Member } from '../contract.ts';
import type { Organization } from '../../src/domain/types.ts';
import { odataString, type GraphApi } from './graph-client.ts';

interface GuestUser {
  id: string;
  userPrincipalName?: string;
  mail?: string | null;
  accountEnabled?: boolean;
}

export async function* listEntraGuests(graph: GraphApi, organization: Organization, ctx: ActionContext): AsyncIterable<Member> {
  for (const domain of organization.domains) {
    const suffix = `@${domain.toLowerCase()}`;
    const users = await graph.collect<GuestUser>({
      method: 'GET',
      path: '/users',
      query: {
        $filter: `userType eq 'Guest' and endswith(mail,${odataString(suffix)})`,
        $count: 'true',
        $select: 'id,userPrincipalName,mail,accountEnabled',
        $top: '100',
      },
      headers: { ConsistencyLevel: 'eventual' },
      signal: ctx.signal,
    });
    for (const user of users) {
      // An answer is checked too: a mail that does not end in the domain is not the client's.
      if (!user.mail?.toLowerCase().endsWith(suffix) || user.accountEnabled === false) continue;
      yield {
        account: { id: user.id, userPrincipalName: user.userPrincipalName ?? null },
        email: user.mail,
        login: user.userPrincipalName ?? null,
      };
    }
  }
}
