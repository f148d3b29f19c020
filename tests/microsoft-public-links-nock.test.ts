/**
 * revoke_public_links against nock on graph.microsoft.com: the exact delta and permission
 * requests, how inherited links are followed to the folder that holds them (with and without
 * Graph naming it), hostile answers, and the typed errors with their checkpoint.
 */
import nock from 'nock';
import { describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { microsoftModule } from '../providers/microsoft/index.ts';
import { PermanentError, VerificationError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';
import { strictNock } from './helpers/strict-nock.ts';

const GRAPH = 'https://graph.microsoft.com';
const TOKEN = 'eyJ0eXAiOiJKV1QiLCJhbGciOi.links-token';
const account: AccountRef = { id: 'u-1', userPrincipalName: 'leaver@contoso.com' };
const subject: Subject = { userName: 'leaver@contoso.com', emails: ['leaver@contoso.com'] };
const SELECT = 'id,shared,parentReference,deleted';
const URL_SECRET = 'https://contoso-my.sharepoint.com/:f:/g/personal/leaver/EsEcReT';

strictNock();

function build(): Provider {
  return microsoftModule.create(
    { tenantId: 'contoso-tenant', clientId: 'client-1', clientSecret: 'secret-value', baseUrl: GRAPH },
    { name: 'entra', logger: silentLogger() },
  );
}

function graph() {
  nock('https://login.microsoftonline.com')
    .post('/contoso-tenant/oauth2/v2.0/token')
    .reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: TOKEN });
  return nock(GRAPH, { reqheaders: { authorization: `Bearer ${TOKEN}` } });
}

const item = (id: string, parent: string | null, shared?: string) => ({
  id,
  parentReference: { driveType: 'business', driveId: 'b!d1', ...(parent ? { id: parent } : {}) },
  ...(shared ? { shared: { scope: shared } } : {}),
});
const link = (id: string, scope: string, extra: Record<string, unknown> = {}) => ({
  id,
  roles: ['read'],
  link: { scope, type: 'view', webUrl: `${URL_SECRET}/${id}` },
  grantedToIdentitiesV2: [],
  ...extra,
});
const OWNER = { id: 'p-owner', roles: ['owner'], grantedToV2: { user: { id: 'u-1' } }, inheritedFrom: {} };
const permissions = (...value: unknown[]) => ({ '@odata.context': `${GRAPH}/v1.0/$metadata#permissions`, value });

describe('revoke_public_links: exact requests', () => {
  it('GETs the drive, pages delta with $select, reads shared items, and DELETEs own anyone links only', async () => {
    const deleted: string[] = [];
    graph()
      .get('/v1.0/users/u-1/drive')
      .query({ $select: 'id' })
      .reply(200, { id: 'b!d1' })
      .get('/v1.0/users/u-1/drive/root/delta')
      .query({ $select: SELECT })
      .reply(200, {
        value: [
          { id: 'root', root: {}, parentReference: { driveId: 'b!d1' } },
          item('F', 'root', 'anonymous'),
          // Shared once, then unshared: the last occurrence counts.
          item('X', 'root', 'anonymous'),
        ],
        '@odata.nextLink': `${GRAPH}/v1.0/drives/b!d1/root/delta?$select=${SELECT}&token=MzslMjM0`,
      })
      .get('/v1.0/drives/b!d1/root/delta')
      .query({ $select: SELECT, token: 'MzslMjM0' })
      .reply(200, {
        value: [item('C', 'F', 'anonymous'), { ...item('D', 'root', 'anonymous'), deleted: { state: 'deleted' } }, item('X', 'root')],
        '@odata.deltaLink': `${GRAPH}/v1.0/drives/b!d1/root/delta?token=NDs1`,
      })
      .get('/v1.0/drives/b!d1/items/F/permissions')
      .reply(200, permissions(OWNER, link('p-anon', 'anonymous'), link('p-org', 'organization'), link('p-users', 'users')))
      .delete('/v1.0/drives/b!d1/items/F/permissions/p-anon')
      .reply(204)
      // OneDrive for Business marks an inherited permission with an empty inheritedFrom: F was done already.
      .get('/v1.0/drives/b!d1/items/C/permissions')
      .reply(200, permissions(OWNER, link('p-anon', 'anonymous', { inheritedFrom: {} })));
    nock(GRAPH)
      .delete(/.*/)
      .optionally()
      .reply((path) => {
        deleted.push(path);
        return [204];
      });
    const result = await build().actions.revoke_public_links!.execute(account, actionContext(subject));
    expect(deleted).toEqual([]);
    expect(result.evidence).toEqual({
      driveId: 'b!d1',
      scopes: ['anonymous'],
      itemsInDrive: 4,
      itemsChecked: 2,
      removedCount: 1,
      removed: [{ itemId: 'F', permissionId: 'p-anon', scope: 'anonymous', type: 'view' }],
      removedListed: 'all',
      itemsTouched: 1,
      alreadyGone: 0,
      inheritedSeen: 1,
      alreadyDone: false,
    });
    expect(JSON.stringify(result.evidence)).not.toContain('EsEcReT');
  });

  it('deletes an inherited link at its source: the item Graph names, else the nearest folder that holds it', async () => {
    graph()
      .get('/v1.0/users/u-1/drive')
      .query(true)
      .reply(200, { id: 'b!d1' })
      .get('/v1.0/users/u-1/drive/root/delta')
      .query(true)
      .reply(200, {
        // Neither G nor H carries the shared facet here (it is known to go missing): their children lead to them.
        value: [
          item('root', null),
          item('G', 'root'),
          item('G2', 'G'),
          item('C1', 'G2', 'anonymous'),
          item('H', 'root'),
          item('C2', 'H', 'organization'),
        ],
      })
      .get('/v1.0/drives/b!d1/items/C1/permissions')
      .reply(200, permissions(link('p-g', 'anonymous', { inheritedFrom: {} })))
      .get('/v1.0/drives/b!d1/items/C2/permissions')
      .reply(200, permissions(link('p-h', 'organization', { inheritedFrom: { driveId: 'b!d1', id: 'H' } })))
      // C1 named no source: its folders, nearest first; G2 holds nothing of its own.
      .get('/v1.0/drives/b!d1/items/G2/permissions')
      .reply(200, permissions(link('p-g', 'anonymous', { inheritedFrom: {} })))
      .get('/v1.0/drives/b!d1/items/root/permissions')
      .reply(200, permissions(OWNER))
      .get('/v1.0/drives/b!d1/items/H/permissions')
      .reply(200, permissions(link('p-h', 'organization')))
      .delete('/v1.0/drives/b!d1/items/H/permissions/p-h')
      .reply(204)
      .get('/v1.0/drives/b!d1/items/G/permissions')
      .reply(200, permissions(link('p-g', 'anonymous')))
      .delete('/v1.0/drives/b!d1/items/G/permissions/p-g')
      .reply(404, { error: { code: 'itemNotFound', message: 'The resource could not be found.' } });
    const ctx = actionContext(subject, { params: { scopes: ['anonymous', 'organization'] } });
    const result = await build().actions.revoke_public_links!.execute(account, ctx);
    expect(result.evidence).toMatchObject({
      removedCount: 1,
      removed: [{ itemId: 'H', permissionId: 'p-h', scope: 'organization' }],
      alreadyGone: 1,
      inheritedSeen: 3,
      itemsChecked: 6,
    });
  });

  it('tolerates hostile answers: odd items and permissions are skipped, a link without id is left for verify', async () => {
    graph()
      .get('/v1.0/users/u-1/drive')
      .query(true)
      .reply(200, { id: 'b!d1' })
      .get('/v1.0/users/u-1/drive/root/delta')
      .query(true)
      .reply(200, {
        value: [
          null,
          7,
          { id: 42, shared: {} },
          { id: '', shared: {} },
          { id: 'A', shared: [] },
          { id: 'B', shared: {}, parentReference: 'x' },
        ],
      })
      .get('/v1.0/drives/b!d1/items/B/permissions')
      .times(2)
      .reply(
        200,
        permissions(null, { id: 'q', link: 'anonymous' }, { id: 'r', link: { scope: ['anonymous'] } }, { link: { scope: 'anonymous' } }),
      )
      .get('/v1.0/users/u-1/drive')
      .query(true)
      .reply(200, { id: 'b!d1' })
      .get('/v1.0/users/u-1/drive/root/delta')
      .query(true)
      .reply(200, { value: [{ id: 'B', shared: {} }] });
    const provider = build();
    const result = await provider.actions.revoke_public_links!.execute(account, actionContext(subject));
    expect(result.evidence).toMatchObject({ itemsInDrive: 2, itemsChecked: 1, removedCount: 0, alreadyDone: true });
    const error = await provider.actions.revoke_public_links!.verify(account, actionContext(subject)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).observed).toEqual({
      driveId: 'b!d1',
      remainingCount: 1,
      remainingLinks: [{ itemId: 'B', permissionId: null, scope: 'anonymous', type: null, inherited: false }],
    });
  });

  it('a refused DELETE (403) is a PermanentError carrying what was removed before it', async () => {
    graph()
      .get('/v1.0/users/u-1/drive')
      .query(true)
      .reply(200, { id: 'b!d1' })
      .get('/v1.0/users/u-1/drive/root/delta')
      .query(true)
      .reply(200, { value: [item('A', 'root', 'anonymous'), item('B', 'root', 'anonymous')] })
      .get('/v1.0/drives/b!d1/items/A/permissions')
      .reply(200, permissions(link('p-a', 'anonymous')))
      .delete('/v1.0/drives/b!d1/items/A/permissions/p-a')
      .reply(204)
      .get('/v1.0/drives/b!d1/items/B/permissions')
      .reply(200, permissions(link('p-b', 'anonymous')))
      .delete('/v1.0/drives/b!d1/items/B/permissions/p-b')
      .reply(403, { error: { code: 'accessDenied', message: 'Access denied' } });
    const error = await build()
      .actions.revoke_public_links!.execute(account, actionContext(subject))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).checkpoint).toEqual({
      removedPublicLinks: 1,
      removedPublicLinksListed: [{ itemId: 'A', permissionId: 'p-a', scope: 'anonymous', type: 'view' }],
    });
    expect((error as Error).message).not.toContain('EsEcReT');
  });

  it('items: all reads every item of the delta, shared facet or not; verify passes on links of other scopes', async () => {
    graph()
      .get('/v1.0/users/u-1/drive')
      .query(true)
      .reply(200, { id: 'b!d1' })
      .get('/v1.0/users/u-1/drive/root/delta')
      .query({ $select: SELECT })
      .reply(200, { value: [item('root', null), item('A', 'root')] })
      .get('/v1.0/drives/b!d1/items/root/permissions')
      .reply(200, permissions(OWNER))
      .get('/v1.0/drives/b!d1/items/A/permissions')
      .reply(200, permissions(link('p-o', 'organization'), link('p-u', 'users')));
    expect(await build().actions.revoke_public_links!.verify(account, actionContext(subject, { params: { items: 'all' } }))).toEqual({
      remainingLinks: 0,
      scopes: ['anonymous'],
      itemsChecked: 2,
      itemsRead: 'every item of the drive',
      driveId: 'b!d1',
    });
  });
});
