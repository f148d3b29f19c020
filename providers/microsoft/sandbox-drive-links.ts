/**
 * The sandbox's OneDrive items and their sharing links: `root/delta` (paged through
 * `@odata.nextLink`, ending with `@odata.deltaLink`), `items/{id}/permissions` and the
 * DELETE of one permission, in Graph's driveItem and permission shapes.
 *
 * A link made on a folder is listed on every item below it with `inheritedFrom` set, and a
 * DELETE of such an inherited permission is refused: it has to go at the folder (Graph's
 * permission-delete reference). The `shared` facet marks items with a link of their own or
 * inherited, with the widest scope; the root's user grants (owner, transfer_files' invite)
 * stay in sandbox.ts and are shown here as inherited by every item.
 */
import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { SandboxControl } from '../sandbox/kit.ts';

export const LINK_SCOPES = ['anonymous', 'organization', 'users'] as const;
export type LinkScope = (typeof LINK_SCOPES)[number];
const LINK_TYPES = ['view', 'edit', 'embed'] as const;
type LinkType = (typeof LINK_TYPES)[number];

/** What a test can seed: a file or folder under the root (or under an earlier seeded item, by index), with links. */
export interface SeedDriveItem {
  name?: string;
  folder?: boolean;
  /** Index of an earlier item of the same list to put this one in. Default: the root. */
  parent?: number;
  links?: Array<{ scope?: LinkScope; type?: LinkType }>;
}

interface StoredLink {
  id: string;
  scope: LinkScope;
  type: LinkType;
  /** Anyone holding it gets in: a secret of the item's, never to be copied into evidence. */
  webUrl: string;
}

interface StoredItem {
  id: string;
  parentId: string | null;
  name: string;
  folder: boolean;
  links: StoredLink[];
  /** The delta sequence of the item's last change (its own links or an ancestor's). */
  version: number;
}

interface DriveTree {
  driveId: string;
  ownerId: string;
  rootId: string;
  /** In creation order: a parent always comes before its children, as delta lists them. */
  items: Map<string, StoredItem>;
}

type GraphErrorWriter = (res: Response, status: number, code: string, message: string) => void;

export interface DriveLinkIo {
  control: SandboxControl;
  graphError: GraphErrorWriter;
  root: string;
  /** The root's user permissions (sandbox.ts), as Graph permission objects. */
  rootPermissions: () => Array<Record<string, unknown>>;
}

/** driveItem properties `$select` may name (delta answers 400 for others, as Graph does). */
const ITEM_PROPERTIES = new Set([
  'id',
  'name',
  'eTag',
  'cTag',
  'size',
  'webUrl',
  'createdDateTime',
  'lastModifiedDateTime',
  'parentReference',
  'file',
  'folder',
  'root',
  'shared',
  'deleted',
  'fileSystemInfo',
]);

const SCOPE_WIDTH: Record<LinkScope, number> = { users: 0, organization: 1, anonymous: 2 };

/** OneDrive for Business item ids: 34 upper-case base32 characters. */
function itemId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return `01${[...randomBytes(32)].map((b) => alphabet[b % 32]).join('')}`;
}

function linkOf(spec: { scope?: unknown; type?: unknown } | null | undefined): StoredLink {
  const scope = LINK_SCOPES.includes(spec?.scope as LinkScope) ? (spec!.scope as LinkScope) : 'anonymous';
  const type = LINK_TYPES.includes(spec?.type as LinkType) ? (spec!.type as LinkType) : 'view';
  return {
    // SharePoint permission ids look like base64 of a GUID-ish value.
    id: randomBytes(16).toString('base64url'),
    scope,
    type,
    webUrl: `https://contoso-my.sharepoint.com/:f:/g/personal/${randomBytes(20).toString('base64url')}`,
  };
}

/** A delta token: where an enumeration stands (`o`) or the sequence a later delta starts after (`s`). */
function encodeToken(value: { o?: number; s: number }): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeToken(token: string): { o?: number; s: number } | null {
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString()) as unknown;
    if (!value || typeof value !== 'object') return null;
    const { o, s } = value as { o?: unknown; s?: unknown };
    if (!Number.isInteger(s) || (o !== undefined && !Number.isInteger(o))) return null;
    return { o: o as number | undefined, s: s as number };
  } catch {
    return null;
  }
}

export class DriveLinkStore {
  private readonly drives = new Map<string, DriveTree>();
  private sequence = 1;

  constructor(private readonly deltaPageSize: number) {}

  /** Makes the drive's root item and the seeded items under it. */
  seed(driveId: string, ownerId: string, items: SeedDriveItem[]): void {
    const root: StoredItem = { id: itemId(), parentId: null, name: 'root', folder: true, links: [], version: this.sequence };
    const tree: DriveTree = { driveId, ownerId, rootId: root.id, items: new Map([[root.id, root]]) };
    const made: StoredItem[] = [];
    // Seeds arrive as JSON through the control API: an entry may be null.
    for (const [i, spec] of (items as Array<SeedDriveItem | null>).entries()) {
      const parentIndex = spec?.parent;
      const parent = Number.isInteger(parentIndex) && parentIndex! >= 0 && parentIndex! < i ? made[parentIndex!] : undefined;
      const item: StoredItem = {
        id: itemId(),
        parentId: parent?.folder ? parent.id : root.id,
        name: typeof spec?.name === 'string' ? spec.name.slice(0, 200) : `Item ${i + 1}`,
        folder: spec?.folder === true,
        links: Array.isArray(spec?.links) ? spec.links.slice(0, 20).map(linkOf) : [],
        version: this.sequence,
      };
      tree.items.set(item.id, item);
      made.push(item);
    }
    this.drives.set(driveId, tree);
  }

  /** Drift: a new file with one link, as if the user shared something again. */
  addLink(driveId: string, scope: LinkScope, type: LinkType): { itemId: string; permissionId: string } | null {
    const tree = this.drives.get(driveId);
    if (!tree) return null;
    const link = linkOf({ scope, type });
    const item: StoredItem = {
      id: itemId(),
      parentId: tree.rootId,
      name: 'Shared again',
      folder: false,
      links: [link],
      version: ++this.sequence,
    };
    tree.items.set(item.id, item);
    return { itemId: item.id, permissionId: link.id };
  }

  /** The links the drive's items hold themselves (for the control API): ids and scopes, never URLs. */
  links(driveId: string): Array<{ itemId: string; permissionId: string; scope: LinkScope; type: LinkType }> {
    const tree = this.drives.get(driveId);
    if (!tree) return [];
    return [...tree.items.values()].flatMap((item) =>
      item.links.map((l) => ({ itemId: item.id, permissionId: l.id, scope: l.scope, type: l.type })),
    );
  }

  rootIdOf(driveId: string): string | null {
    return this.drives.get(driveId)?.rootId ?? null;
  }

  /** `GET .../root/delta`: the whole tree in pages of `deltaPageSize` (or `$top`), then a deltaLink. */
  delta(driveId: string, req: Request, res: Response, io: DriveLinkIo): void {
    const tree = this.drives.get(driveId);
    if (!tree) return io.graphError(res, 404, 'itemNotFound', 'The resource could not be found.');
    const select =
      typeof req.query.$select === 'string' && req.query.$select !== '' ? req.query.$select.split(',').map((s) => s.trim()) : null;
    const unknown = select?.find((p) => !ITEM_PROPERTIES.has(p));
    if (unknown !== undefined) {
      return io.graphError(
        res,
        400,
        'BadRequest',
        `Parsing OData Select and Expand failed: Could not find a property named '${unknown}' on type 'microsoft.graph.driveItem'.`,
      );
    }
    const top = Number(req.query.$top ?? this.deltaPageSize);
    const size = Number.isInteger(top) && top > 0 ? Math.min(top, 999) : this.deltaPageSize;
    const raw = typeof req.query.token === 'string' ? req.query.token : null;
    const here = `${io.root}/drives/${encodeURIComponent(driveId)}/root/delta`;
    const keep = [...(select ? [`$select=${select.join(',')}`] : []), ...(req.query.$top !== undefined ? [`$top=${size}`] : [])];
    const link = (token: string) => `${here}?${[...keep, `token=${token}`].join('&')}`;
    const context = `${io.root}/$metadata#Collection(driveItem)`;
    if (raw === 'latest') {
      return void res.json({ '@odata.context': context, value: [], '@odata.deltaLink': link(encodeToken({ s: this.sequence })) });
    }
    const token = raw === null ? { o: 0, s: 0 } : decodeToken(raw);
    if (!token) return io.graphError(res, 400, 'invalidRequest', 'Invalid request: the delta token is malformed.');
    const all = [...tree.items.values()].filter((item) => item.version > token.s);
    const offset = token.o ?? 0;
    const page = all.slice(offset, offset + size);
    const value = page.map((item) => this.itemView(tree, item, select));
    if (offset + size < all.length) {
      return void res.json({ '@odata.context': context, value, '@odata.nextLink': link(encodeToken({ o: offset + size, s: token.s })) });
    }
    res.json({ '@odata.context': context, value, '@odata.deltaLink': link(encodeToken({ s: this.sequence })) });
  }

  /** `/drives/{d}/items/{i}/permissions` (GET) and `/drives/{d}/items/{i}/permissions/{p}` (DELETE). */
  route(
    driveId: string,
    parts: { itemId: string | undefined; collection: string | undefined; permissionId: string | undefined; rest: boolean },
    req: Request,
    res: Response,
    io: DriveLinkIo,
  ): boolean {
    const tree = this.drives.get(driveId);
    if (!tree || parts.itemId === undefined || parts.collection?.toLowerCase() !== 'permissions' || parts.rest) return false;
    const item = tree.items.get(parts.itemId);
    if (!item) {
      io.graphError(res, 404, 'itemNotFound', 'The resource could not be found.');
      return true;
    }
    if (parts.permissionId === undefined && req.method === 'GET') {
      res.json({
        '@odata.context': `${io.root}/$metadata#drives('${driveId}')/items('${item.id}')/permissions`,
        value: this.permissionsOf(tree, item, io),
      });
      return true;
    }
    if (parts.permissionId === undefined || req.method !== 'DELETE') return false;
    const index = item.links.findIndex((l) => l.id === parts.permissionId);
    if (index < 0) {
      const inherited = this.ancestors(tree, item).some((a) => a.links.some((l) => l.id === parts.permissionId));
      // Graph's reference: only permissions that are not inherited can be deleted.
      if (inherited) io.graphError(res, 403, 'notAllowed', 'Operation not allowed');
      else io.graphError(res, 404, 'itemNotFound', 'The resource could not be found.');
      return true;
    }
    if (io.control.lie()) {
      res.status(204).end();
      return true;
    }
    item.links.splice(index, 1);
    // The item and everything below it changed sharing: the next delta lists them again.
    this.sequence += 1;
    for (const changed of [item, ...this.descendants(tree, item)]) changed.version = this.sequence;
    io.control.countWrite('remove_public_link', tree.ownerId);
    res.status(204).end();
    return true;
  }

  private ancestors(tree: DriveTree, item: StoredItem): StoredItem[] {
    const out: StoredItem[] = [];
    for (let at = item.parentId; at !== null;) {
      const parent = tree.items.get(at);
      if (!parent) break;
      out.push(parent);
      at = parent.parentId;
    }
    return out;
  }

  private descendants(tree: DriveTree, item: StoredItem): StoredItem[] {
    return [...tree.items.values()].filter((other) => this.ancestors(tree, other).includes(item));
  }

  private permissionsOf(tree: DriveTree, item: StoredItem, io: DriveLinkIo): Array<Record<string, unknown>> {
    const isRoot = item.id === tree.rootId;
    const fromRoot = isRoot
      ? io.rootPermissions()
      : io.rootPermissions().map((p) => ({ ...p, inheritedFrom: this.reference(tree, tree.rootId) }));
    const inherited = this.ancestors(tree, item).flatMap((a) => a.links.map((l) => linkView(l, this.reference(tree, a.id))));
    return [...fromRoot, ...inherited, ...item.links.map((l) => linkView(l, null))];
  }

  private reference(tree: DriveTree, id: string): Record<string, unknown> {
    return { driveType: 'business', driveId: tree.driveId, id };
  }

  private itemView(tree: DriveTree, item: StoredItem, select: string[] | null): Record<string, unknown> {
    const links = [item, ...this.ancestors(tree, item)].flatMap((i) => i.links);
    const widest = links.reduce<LinkScope | null>((w, l) => (w === null || SCOPE_WIDTH[l.scope] > SCOPE_WIDTH[w] ? l.scope : w), null);
    const isRoot = item.id === tree.rootId;
    const all: Record<string, unknown> = {
      id: item.id,
      name: item.name,
      parentReference: isRoot
        ? { driveType: 'business', driveId: tree.driveId }
        : { driveType: 'business', driveId: tree.driveId, id: item.parentId },
      ...(isRoot ? { root: {} } : {}),
      ...(item.folder
        ? { folder: { childCount: [...tree.items.values()].filter((i) => i.parentId === item.id).length } }
        : { file: { mimeType: 'application/octet-stream' } }),
      ...(widest ? { shared: { scope: widest, owner: { user: { id: tree.ownerId } } } } : {}),
    };
    // Graph leaves out facets the item does not have, selected or not.
    return select ? Object.fromEntries(select.filter((p) => p in all).map((p) => [p, all[p]])) : all;
  }
}

function linkView(link: StoredLink, inheritedFrom: Record<string, unknown> | null): Record<string, unknown> {
  return {
    id: link.id,
    roles: [link.type === 'edit' ? 'write' : 'read'],
    link: { scope: link.scope, type: link.type, webUrl: link.webUrl, preventsDownload: false },
    grantedToIdentitiesV2: [],
    grantedToIdentities: [],
    shareId: `u!${Buffer.from(link.webUrl).toString('base64url')}`,
    ...(inheritedFrom ? { inheritedFrom } : {}),
  };
}
