/**
 * revoke_public_links on Microsoft Graph: the sharing links of the leaver's OneDrive that
 * work for anyone (`link.scope` anonymous), and with step param `scopes: [anonymous,
 * organization]` those for the whole organization too, are deleted; the read-back must find
 * none. Links for specific people (`users`) and direct grants stay: they name who has access,
 * and transfer_files hands the drive over after this step.
 *
 * Items are found with one delta enumeration of the drive (`$select` keeps it to ids and
 * facets: file names are the user's data and are never read into evidence); those with a
 * `shared` facet are the candidates (step param `items: all` checks every item instead, for
 * tenants where the facet is missing: docs/providers/microsoft.md). An inherited link cannot
 * be deleted where it shows: it is deleted at the folder it comes from.
 */
import type { AccountRef, ActionContext, ActionHandler, Evidence, ExecuteResult } from '../contract.ts';
import { DeprovisionError, PermanentError, VerificationError, withCheckpoint } from '../contract.ts';
import type { JsonObject } from '../../src/domain/types.ts';
import { seg, type GraphApi } from './graph-client.ts';
import { driveIdOf } from './drive.ts';

const REMOVABLE_SCOPES = ['anonymous', 'organization'] as const;
type RemovableScope = (typeof REMOVABLE_SCOPES)[number];

/** Links named one by one in evidence and errors; the counts beside them stay exact. */
const MAX_LISTED = 200;

interface Settings {
  scopes: RemovableScope[];
  items: 'shared' | 'all';
}

/** One item of the delta answer, hostile until checked. */
interface DeltaItem {
  id?: unknown;
  shared?: unknown;
  deleted?: unknown;
  parentReference?: unknown;
}

/** One permission of an item, hostile until checked. */
interface ItemPermission {
  id?: unknown;
  link?: unknown;
  inheritedFrom?: unknown;
}

/** A link of a scope this step removes. */
interface ScopedLink {
  permissionId: string | null;
  scope: RemovableScope;
  type: string | null;
  inherited: boolean;
  /** The item the link is inherited from, when Graph says (OneDrive for Business often sends `inheritedFrom: {}`). */
  source: string | null;
}

interface DriveMap {
  /** Each item's parent id (null for the root), in delta order: folders before what they hold. */
  parentOf: Map<string, string | null>;
  /** The items whose permissions are read. */
  candidates: string[];
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const stringField = (value: unknown, key: string): string | null => {
  if (!isObject(value) || !Object.hasOwn(value, key)) return null;
  const field = value[key];
  return typeof field === 'string' && field !== '' ? field : null;
};

function settingsOf(ctx: ActionContext): Settings {
  const scopes: unknown = ctx.params.scopes ?? ['anonymous'];
  if (!Array.isArray(scopes) || scopes.length === 0 || scopes.some((s) => !REMOVABLE_SCOPES.includes(s as RemovableScope))) {
    throw new PermanentError(
      `Microsoft revoke_public_links: scopes must list anonymous and/or organization, got ${JSON.stringify(scopes).slice(0, 100)}`,
    );
  }
  const items = ctx.params.items ?? 'shared';
  if (items !== 'shared' && items !== 'all') {
    throw new PermanentError(`Microsoft revoke_public_links: unknown items ${JSON.stringify(items).slice(0, 100)} (shared or all)`);
  }
  return { scopes: [...new Set(scopes as RemovableScope[])], items };
}

/** One delta enumeration of the drive, every page. */
async function readDrive(graph: GraphApi, userId: string, settings: Settings, signal: AbortSignal): Promise<DriveMap> {
  // Hostile until checked: a page may hold nulls or non-objects.
  const items = await graph.collect<DeltaItem | null>({
    method: 'GET',
    path: `/users/${seg(userId)}/drive/root/delta`,
    query: { $select: 'id,shared,parentReference,deleted' },
    signal,
  });
  const parentOf = new Map<string, string | null>();
  const shared = new Set<string>();
  for (const item of items) {
    const id = stringField(item, 'id');
    if (id === null) continue;
    // Delta may list an item more than once; its last occurrence is its state.
    parentOf.delete(id);
    shared.delete(id);
    if (isObject(item) && isObject(item.deleted)) continue;
    parentOf.set(id, stringField(item?.parentReference, 'id'));
    if (isObject(item?.shared)) shared.add(id);
  }
  const candidates = [...parentOf.keys()].filter((id) => settings.items === 'all' || shared.has(id));
  return { parentOf, candidates };
}

/** The item's links of the removed scopes; an item gone since the delta (404) has none. */
async function scopedLinksOf(graph: GraphApi, driveId: string, itemId: string, scopes: RemovableScope[], signal: AbortSignal) {
  const permissions = await graph.collect<ItemPermission>({
    method: 'GET',
    path: `/drives/${seg(driveId)}/items/${seg(itemId)}/permissions`,
    signal,
    notFoundIsNull: true,
  });
  const links: ScopedLink[] = [];
  for (const permission of permissions) {
    if (!isObject(permission) || !isObject(permission.link)) continue;
    const scope = stringField(permission.link, 'scope');
    if (!scopes.includes(scope as RemovableScope)) continue;
    // Any inheritedFrom object, even an empty one, marks a permission this item does not hold itself.
    const inherited = isObject(permission.inheritedFrom);
    links.push({
      permissionId: stringField(permission, 'id'),
      scope: scope as RemovableScope,
      type: stringField(permission.link, 'type'),
      inherited,
      source: inherited ? stringField(permission.inheritedFrom, 'id') : null,
    });
  }
  return links;
}

/**
 * Where an inherited link can be deleted: the item Graph names, else the folders above the
 * item, nearest first, up to the first one already read (that read deleted the link, or
 * queued the folders above it in turn).
 */
function sourcesOf(link: ScopedLink, itemId: string, drive: DriveMap, visited: Set<string>): string[] {
  if (link.source) return visited.has(link.source) ? [] : [link.source];
  const out: string[] = [];
  // Bounded by the drive's size: a hostile parent chain cannot loop.
  for (let at = drive.parentOf.get(itemId) ?? null; at !== null && out.length < drive.parentOf.size; at = drive.parentOf.get(at) ?? null) {
    if (visited.has(at)) break;
    out.push(at);
  }
  return out;
}

const linkEvidence = (itemId: string, link: ScopedLink): JsonObject => ({
  itemId,
  permissionId: link.permissionId,
  scope: link.scope,
  type: link.type,
});

/** What an earlier attempt of this task removed before it failed (its error's checkpoint). */
function earlierRemovals(checkpoint: JsonObject | null): { count: number; listed: JsonObject[] } {
  const count = checkpoint?.removedPublicLinks;
  const listed = checkpoint?.removedPublicLinksListed;
  return {
    count: typeof count === 'number' && Number.isInteger(count) && count >= 0 ? count : 0,
    listed: Array.isArray(listed) ? (listed.filter(isObject) as JsonObject[]).slice(0, MAX_LISTED) : [],
  };
}

export function revokePublicLinks(graph: GraphApi): ActionHandler {
  return {
    execute: async (account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> => {
      const settings = settingsOf(ctx);
      const driveId = await driveIdOf(graph, account.id, ctx.signal);
      if (!driveId) return { skipped: 'the user has no OneDrive', evidence: { drive: null } };
      const earlier = earlierRemovals(ctx.checkpoint);
      const removed = [...earlier.listed];
      let removedCount = earlier.count;
      let alreadyGone = 0;
      let inheritedSeen = 0;
      const visited = new Set<string>();
      let drive: DriveMap;
      try {
        drive = await readDrive(graph, account.id, settings, ctx.signal);
        const queue = [...drive.candidates];
        while (queue.length > 0) {
          const itemId = queue.shift()!;
          if (visited.has(itemId)) continue;
          visited.add(itemId);
          for (const link of await scopedLinksOf(graph, driveId, itemId, settings.scopes, ctx.signal)) {
            if (link.inherited) {
              inheritedSeen += 1;
              queue.push(...sourcesOf(link, itemId, drive, visited));
              continue;
            }
            // Without an id nothing can address the link; verify reports it.
            if (link.permissionId === null) continue;
            const answer = await graph.send({
              method: 'DELETE',
              path: `/drives/${seg(driveId)}/items/${seg(itemId)}/permissions/${seg(link.permissionId)}`,
              signal: ctx.signal,
              notFoundIsNull: true,
            });
            if (answer.status === 404) {
              alreadyGone += 1;
              continue;
            }
            removedCount += 1;
            if (removed.length < MAX_LISTED) removed.push(linkEvidence(itemId, link));
          }
        }
      } catch (error) {
        // The retry starts over from a fresh delta (links removed are gone from it) and keeps the count.
        if (error instanceof DeprovisionError && !(error instanceof VerificationError)) {
          throw withCheckpoint(error, { removedPublicLinks: removedCount, removedPublicLinksListed: removed });
        }
        throw error;
      }
      return {
        evidence: {
          driveId,
          scopes: settings.scopes,
          itemsInDrive: drive.parentOf.size,
          itemsChecked: visited.size,
          removedCount,
          removed,
          removedListed: removed.length < removedCount ? `first ${MAX_LISTED}` : 'all',
          itemsTouched: new Set(removed.map((r) => r.itemId)).size,
          alreadyGone,
          inheritedSeen,
          alreadyDone: removedCount === 0,
        },
      };
    },
    verify: async (account: AccountRef, ctx: ActionContext): Promise<Evidence> => {
      const settings = settingsOf(ctx);
      const driveId = await driveIdOf(graph, account.id, ctx.signal);
      if (!driveId) return { drive: null };
      const drive = await readDrive(graph, account.id, settings, ctx.signal);
      const remaining: JsonObject[] = [];
      let remainingCount = 0;
      for (const itemId of drive.candidates) {
        for (const link of await scopedLinksOf(graph, driveId, itemId, settings.scopes, ctx.signal)) {
          remainingCount += 1;
          if (remaining.length < MAX_LISTED) remaining.push({ ...linkEvidence(itemId, link), inherited: link.inherited });
        }
      }
      if (remainingCount > 0) {
        throw new VerificationError(`${remainingCount} sharing link(s) of scope ${settings.scopes.join('/')} remain on the OneDrive`, {
          driveId,
          remainingCount,
          remainingLinks: remaining,
        });
      }
      // Which items were read is part of the proof: with the default, those the delta marked shared.
      return {
        remainingLinks: 0,
        scopes: settings.scopes,
        itemsChecked: drive.candidates.length,
        itemsRead: settings.items === 'all' ? 'every item of the drive' : 'items with a shared facet',
        driveId,
      };
    },
  };
}
