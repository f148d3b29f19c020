/**
 * The Drive part of the Google sandbox: files with owners and permissions, on Drive v3's
 * own paths (`/drive/v3/files`, `/drive/v3/files/{fileId}/permissions[/{permissionId}]`),
 * JSON shapes, paging (`pageSize`, `pageToken`) and error bodies, so the real
 * `@googleapis/drive` client runs against it. Registered by sandbox.ts.
 *
 * files.list understands the search terms the adapter sends, joined by `and`:
 * `'<address>' in owners`, `visibility = '<value>'` (alone or as a parenthesised `or`
 * list) and `trashed = true|false`. Anything else is Drive's 400 on `q`. The owner is named
 * by address: the sandbox has one static token, so `'me' in owners` cannot be told apart.
 */
import type express from 'express';
import type { Request, Response } from 'express';
import type { SandboxControl } from '../sandbox/kit.ts';

export interface DrivePermission {
  id: string;
  type: 'user' | 'group' | 'domain' | 'anyone';
  role: 'owner' | 'organizer' | 'fileOrganizer' | 'writer' | 'commenter' | 'reader';
  emailAddress?: string;
  domain?: string;
  allowFileDiscovery?: boolean;
}

export interface DriveFile {
  id: string;
  name: string;
  mimeType: string;
  ownerEmail: string;
  trashed: boolean;
  permissions: DrivePermission[];
}

/** What a seeded user's Drive starts with. */
export interface DriveSeed {
  /** Files shared with one colleague only. */
  files?: number;
  /** Files with an "anyone with the link" permission (and a colleague beside it). */
  publicFiles?: number;
  /** Files with a "domain with the link" permission. */
  domainFiles?: number;
}

/** Drive's `visibility` of a file: its widest permission. */
export function visibilityOf(file: DriveFile): string {
  const anyone = file.permissions.find((p) => p.type === 'anyone');
  if (anyone) return anyone.allowFileDiscovery ? 'anyoneCanFind' : 'anyoneWithLink';
  const domain = file.permissions.find((p) => p.type === 'domain');
  if (domain) return domain.allowFileDiscovery ? 'domainCanFind' : 'domainWithLink';
  return 'limited';
}

const VISIBILITIES = new Set(['anyoneCanFind', 'anyoneWithLink', 'domainCanFind', 'domainWithLink', 'limited']);

export class DriveStore {
  /** Every file, by id, in creation order (the order files.list pages through). */
  readonly files = new Map<string, DriveFile>();
  private sequence = 0;

  private nextId(): string {
    this.sequence += 1;
    return `1${String(this.sequence).padStart(8, '0')}sAnDbOxDrIvEfIlE`;
  }

  seed(ownerEmail: string, input: DriveSeed): void {
    const domain = ownerEmail.split('@')[1] ?? 'example.com';
    for (let i = 0; i < (input.files ?? 0); i += 1) this.addFile(ownerEmail, 'limited', `Notes ${i + 1}`);
    for (let i = 0; i < (input.publicFiles ?? 0); i += 1) this.addFile(ownerEmail, 'anyone', `Shared deck ${i + 1}`);
    for (let i = 0; i < (input.domainFiles ?? 0); i += 1) this.addFile(ownerEmail, 'domain', `Team sheet ${i + 1}`, domain);
  }

  /** A file owned by `ownerEmail`, shared with a colleague, and with a link of the given reach. */
  addFile(ownerEmail: string, reach: 'limited' | 'anyone' | 'domain', name: string, domain = 'example.com'): DriveFile {
    const id = this.nextId();
    const permissions: DrivePermission[] = [
      { id: `0${this.sequence}1`, type: 'user', role: 'owner', emailAddress: ownerEmail },
      { id: `0${this.sequence}2`, type: 'user', role: 'writer', emailAddress: `colleague@${ownerEmail.split('@')[1] ?? domain}` },
    ];
    // Drive's id for an anyone-with-the-link permission is the literal `anyoneWithLink`.
    if (reach === 'anyone') permissions.push({ id: 'anyoneWithLink', type: 'anyone', role: 'reader', allowFileDiscovery: false });
    if (reach === 'domain')
      permissions.push({ id: `0${this.sequence}3`, type: 'domain', role: 'reader', domain, allowFileDiscovery: false });
    const file: DriveFile = { id, name, mimeType: 'application/vnd.google-apps.document', ownerEmail, trashed: false, permissions };
    this.files.set(id, file);
    return file;
  }

  ownedBy(email: string): DriveFile[] {
    const lower = email.toLowerCase();
    return [...this.files.values()].filter((f) => f.ownerEmail.toLowerCase() === lower);
  }

  /** Ownership moves with every permission; the previous owner stays an editor, as at Google. */
  transferOwnership(fromEmail: string, toEmail: string): void {
    for (const file of this.ownedBy(fromEmail)) {
      file.ownerEmail = toEmail;
      const owner = file.permissions.find((p) => p.role === 'owner');
      if (owner) owner.role = 'writer';
      this.sequence += 1;
      file.permissions.unshift({ id: `0${this.sequence}1`, type: 'user', role: 'owner', emailAddress: toEmail });
    }
  }

  deleteOwner(email: string): void {
    for (const file of this.ownedBy(email)) this.files.delete(file.id);
  }
}

type GoogleErrorFn = (res: Response, code: number, message: string, reason: string, status?: string) => void;

/** One parsed search term: a test a file passes or not. */
type Term = (file: DriveFile) => boolean;

const QUOTED = String.raw`'((?:[^'\\]|\\.)*)'`;
const unquote = (s: string) => s.replace(/\\(.)/g, '$1');

/** The search terms this sandbox understands (see the header), or null: Drive's 400. */
export function parseQuery(q: string): Term | null {
  const terms: Term[] = [];
  for (const clause of splitTopLevel(q.trim(), 'and')) {
    const owner = new RegExp(`^${QUOTED}\\s+in\\s+owners$`).exec(clause);
    if (owner) {
      const email = unquote(owner[1]!).toLowerCase();
      terms.push((f) => f.ownerEmail.toLowerCase() === email);
      continue;
    }
    const trashed = /^trashed\s*=\s*(true|false)$/.exec(clause);
    if (trashed) {
      const want = trashed[1] === 'true';
      terms.push((f) => f.trashed === want);
      continue;
    }
    const inner = clause.startsWith('(') && clause.endsWith(')') ? clause.slice(1, -1).trim() : clause;
    const wanted: string[] = [];
    for (const alt of splitTopLevel(inner, 'or')) {
      const v = new RegExp(`^visibility\\s*=\\s*${QUOTED}$`).exec(alt);
      if (!v || !VISIBILITIES.has(v[1]!)) return null;
      wanted.push(v[1]!);
    }
    if (wanted.length === 0) return null;
    terms.push((f) => wanted.includes(visibilityOf(f)));
  }
  return terms.length > 0 ? (f) => terms.every((t) => t(f)) : null;
}

/** Splits on ` and ` / ` or ` outside quotes and parentheses. */
function splitTopLevel(text: string, word: 'and' | 'or'): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i += 1;
      else if (c === "'") quoted = false;
      continue;
    }
    if (c === "'") quoted = true;
    else if (c === '(') depth += 1;
    else if (c === ')') depth -= 1;
    else if (depth === 0 && text.startsWith(` ${word} `, i)) {
      parts.push(text.slice(start, i).trim());
      start = i + word.length + 2;
      i = start - 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts.filter((p) => p !== '');
}

function query(req: Request, name: string): string | undefined {
  const value = req.query[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Drive's page size rules: 1..max, default as given; anything else is a 400 on the parameter. */
function pageSize(req: Request, fallback: number, max: number): number | null {
  const raw = query(req, 'pageSize');
  if (raw === undefined) return fallback;
  const n = Number(raw);
  return Number.isInteger(n) && n >= 1 && n <= max ? n : null;
}

function permissionJson(p: DrivePermission): Record<string, unknown> {
  return { kind: 'drive#permission', ...p };
}

export function registerDriveRoutes(
  app: express.Express,
  control: SandboxControl,
  deps: { store: DriveStore; googleError: GoogleErrorFn },
): void {
  const F = '/drive/v3/files';
  const invalidParameter = (res: Response, location: string) =>
    res.status(400).json({
      error: {
        code: 400,
        message: `Invalid Value`,
        errors: [{ domain: 'global', reason: 'invalid', message: 'Invalid Value', locationType: 'parameter', location }],
      },
    });
  const fileNotFound = (res: Response, id: string) => deps.googleError(res, 404, `File not found: ${id}.`, 'notFound');

  app.get(F, (req, res) => {
    const q = query(req, 'q');
    const test = q === undefined ? () => true : parseQuery(q);
    if (!test) return invalidParameter(res, 'q');
    const size = pageSize(req, 100, 1000);
    if (size === null) return invalidParameter(res, 'pageSize');
    const start = Number(query(req, 'pageToken') ?? 0);
    if (!Number.isInteger(start) || start < 0) return invalidParameter(res, 'pageToken');
    const matching = [...deps.store.files.values()].filter(test);
    const page = matching.slice(start, start + size);
    res.json({
      kind: 'drive#fileList',
      ...(start + size < matching.length ? { nextPageToken: String(start + size) } : {}),
      incompleteSearch: false,
      files: page.map((f) => ({ kind: 'drive#file', id: f.id, name: f.name, mimeType: f.mimeType })),
    });
  });

  app.get(`${F}/:fileId/permissions`, (req, res) => {
    const file = deps.store.files.get(req.params.fileId);
    if (!file) return fileNotFound(res, req.params.fileId);
    const size = pageSize(req, 100, 100);
    if (size === null) return invalidParameter(res, 'pageSize');
    const start = Number(query(req, 'pageToken') ?? 0);
    if (!Number.isInteger(start) || start < 0) return invalidParameter(res, 'pageToken');
    res.json({
      kind: 'drive#permissionList',
      ...(start + size < file.permissions.length ? { nextPageToken: String(start + size) } : {}),
      permissions: file.permissions.slice(start, start + size).map(permissionJson),
    });
  });

  app.delete(`${F}/:fileId/permissions/:permissionId`, (req, res) => {
    const file = deps.store.files.get(req.params.fileId);
    if (!file) return fileNotFound(res, req.params.fileId);
    const id = req.params.permissionId;
    const index = file.permissions.findIndex((p) => p.id === id);
    if (index < 0) return deps.googleError(res, 404, `Permission not found: ${id}.`, 'notFound');
    if (file.permissions[index]!.role === 'owner') {
      return deps.googleError(res, 403, 'The owner of a file cannot be removed.', 'cannotRemoveOwner');
    }
    if (control.lie()) return void res.status(204).end();
    file.permissions.splice(index, 1);
    control.countWrite('permissions.delete', file.ownerEmail);
    res.status(204).end();
  });
}
