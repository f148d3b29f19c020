/**
 * revoke_public_links on Drive, acting as the leaver (domain-wide delegation with the user
 * as JWT subject): every "anyone" permission (anyone with the link, or public on the web)
 * on a file the leaver owns is deleted. A file keeps its permissions through an ownership
 * transfer, so this runs before transfer_files; otherwise the manager inherits the links.
 *
 * Step param `links`: `anyone` (default) or `anyone_and_domain`, which also removes the
 * "anyone in the organisation" permissions (type `domain`). The default leaves those: they
 * reach colleagues only, and the leaver loses them with the account.
 *
 * Candidates come from a files.list search on `visibility` (Drive's index), and every
 * candidate's permissions are then read with permissions.list (the file itself), so a
 * search that lags behind a removal never counts as a link left.
 */
import type { drive_v3 } from '@googleapis/drive';
import {
  PermanentError,
  VerificationError,
  type AccountRef,
  type ActionContext,
  type ActionHandler,
  type Evidence,
  type ExecuteResult,
} from '../contract.ts';
import type { JsonObject } from '../../src/domain/types.ts';
import type { GoogleActionKit } from './action-kit.ts';
import { isNotFound } from './errors.ts';

type Drive = drive_v3.Drive;
type Permission = drive_v3.Schema$Permission;
type Links = 'anyone' | 'anyone_and_domain';

/** Drive's largest pages: 1000 files, 100 permissions. */
const FILE_PAGE = 1000;
const PERMISSION_PAGE = 100;
/** Files named in the evidence; the counts cover them all. */
const FILES_LISTED = 50;

export function revokePublicLinksHandler(kit: GoogleActionKit): ActionHandler {
  return {
    execute: (account, ctx) => revokePublicLinks(kit, account, ctx),
    verify: (account, ctx) => verifyNoPublicLinks(kit, account, ctx),
  };
}

function linksOf(ctx: ActionContext): Links {
  const links = ctx.params.links ?? 'anyone';
  if (links !== 'anyone' && links !== 'anyone_and_domain') {
    throw new PermanentError(`google revoke_public_links: unknown links ${JSON.stringify(links)} (anyone or anyone_and_domain)`);
  }
  return links;
}

/** The types a step removes: `anyone`, and `domain` when configured. */
function isPublic(permission: Permission, links: Links): boolean {
  return permission.type === 'anyone' || (links === 'anyone_and_domain' && permission.type === 'domain');
}

/**
 * The search: files the leaver owns (by address: the JWT acts as them, and `'me' in owners`
 * would say the same) whose visibility is wider than named people. Trashed files are
 * included: a trashed file's link still opens it until the trash is emptied.
 */
export function publicFilesQuery(owner: string, links: Links): string {
  const visibilities = ['anyoneWithLink', 'anyoneCanFind', ...(links === 'anyone_and_domain' ? ['domainWithLink', 'domainCanFind'] : [])];
  const quoted = owner.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  return `'${quoted}' in owners and (${visibilities.map((v) => `visibility = '${v}'`).join(' or ')})`;
}

function driveOf(kit: GoogleActionKit, account: AccountRef): { drive: Drive; owner: string } {
  const owner = account.primaryEmail;
  if (typeof owner !== 'string' || !owner.includes('@')) {
    throw new PermanentError(`google revoke_public_links: account ${account.id} has no primary email to act as`);
  }
  return { drive: kit.api.asUser(owner).drive, owner };
}

async function revokePublicLinks(kit: GoogleActionKit, account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> {
  const links = linksOf(ctx);
  const { drive, owner } = driveOf(kit, account);
  const { signal } = ctx;
  let removed = 0;
  let alreadyGone = 0;
  const files: JsonObject[] = [];
  // The whole search first: deleting while paging would shrink the result set under the
  // page tokens and skip files.
  const candidates: string[] = [];
  for await (const file of candidateFiles(kit, drive, owner, links, signal)) candidates.push(file.id);
  // One file at a time: a leaver may own thousands, and the provider's gate paces requests.
  for (const fileId of candidates) {
    const open = (await filePermissions(kit, drive, fileId, signal)).filter((p) => isPublic(p, links));
    for (const permission of open) {
      try {
        await drive.permissions.delete({ fileId, permissionId: permission.id! }, { signal });
        removed += 1;
      } catch (error) {
        if (!isNotFound(error)) throw kit.toError(error, 'permissions.delete');
        alreadyGone += 1;
      }
    }
    if (open.length > 0 && files.length < FILES_LISTED) {
      files.push({ fileId, removed: open.map((p) => `${p.type ?? '?'}:${p.role ?? '?'}`) });
    }
  }
  return {
    evidence: {
      links,
      permissionsRemoved: removed,
      permissionsAlreadyGone: alreadyGone,
      files,
      alreadyDone: removed === 0,
    },
  };
}

async function verifyNoPublicLinks(kit: GoogleActionKit, account: AccountRef, ctx: ActionContext): Promise<Evidence> {
  const links = linksOf(ctx);
  const { drive, owner } = driveOf(kit, account);
  const left: JsonObject[] = [];
  let checked = 0;
  let remaining = 0;
  for await (const file of candidateFiles(kit, drive, owner, links, ctx.signal)) {
    checked += 1;
    const open = (await filePermissions(kit, drive, file.id, ctx.signal)).filter((p) => isPublic(p, links));
    remaining += open.length;
    if (open.length > 0 && left.length < FILES_LISTED) {
      left.push({ fileId: file.id, permissions: open.map((p) => ({ id: p.id ?? null, type: p.type ?? null, role: p.role ?? null })) });
    }
  }
  if (remaining > 0) {
    throw new VerificationError('google: public links remain on files the user owns', {
      publicPermissionsRemaining: remaining,
      files: left,
    });
  }
  // `filesSearchedStillListed`: files the search still lists, read one by one and found closed.
  return { links, publicPermissionsRemaining: 0, filesSearchedStillListed: checked };
}

/** files.list with the search, every page. An incomplete search cannot prove anything. */
async function* candidateFiles(
  kit: GoogleActionKit,
  drive: Drive,
  owner: string,
  links: Links,
  signal: AbortSignal,
): AsyncGenerator<{ id: string }> {
  const q = publicFilesQuery(owner, links);
  let pageToken: string | undefined;
  do {
    const page = await kit.call('files.list', () =>
      drive.files.list(
        {
          q,
          corpora: 'user',
          pageSize: FILE_PAGE,
          fields: 'nextPageToken, incompleteSearch, files(id)',
          ...(pageToken ? { pageToken } : {}),
        },
        { signal },
      ),
    );
    if (page.incompleteSearch === true) {
      throw new VerificationError('google: the Drive search answered incompleteSearch: files may be missing', { query: q });
    }
    // Hostile until checked: entries may be null or lack an id.
    const files: unknown = page.files;
    for (const file of Array.isArray(files) ? (files as Array<{ id?: unknown } | null>) : []) {
      if (typeof file?.id === 'string' && file.id !== '') yield { id: file.id };
    }
    pageToken = typeof page.nextPageToken === 'string' && page.nextPageToken !== '' ? page.nextPageToken : undefined;
  } while (pageToken);
}

/** permissions.list of one file, every page. A file gone since the search has none. */
async function filePermissions(kit: GoogleActionKit, drive: Drive, fileId: string, signal: AbortSignal): Promise<Permission[]> {
  const all: Permission[] = [];
  let pageToken: string | undefined;
  do {
    let page: drive_v3.Schema$PermissionList;
    try {
      page = (
        await drive.permissions.list(
          {
            fileId,
            pageSize: PERMISSION_PAGE,
            fields: 'nextPageToken, permissions(id, type, role, domain, allowFileDiscovery)',
            ...(pageToken ? { pageToken } : {}),
          },
          { signal },
        )
      ).data;
    } catch (error) {
      if (isNotFound(error)) return [];
      throw kit.toError(error, 'permissions.list');
    }
    const permissions: unknown = page.permissions;
    for (const p of Array.isArray(permissions) ? (permissions as Array<Permission | null>) : []) {
      if (typeof p?.id === 'string' && p.id !== '') all.push(p);
    }
    pageToken = typeof page.nextPageToken === 'string' && page.nextPageToken !== '' ? page.nextPageToken : undefined;
  } while (pageToken);
  return all;
}
