/**
 * Between a SCIM Group resource (RFC 7643 §4.2) and the directory's group. Bodies are
 * checked here by hand, not by SCIMMY: a group's members can number tens of thousands, and
 * each write is read once and diffed in the store rather than coerced several times.
 */
import type { JsonObject } from '../../domain/types.ts';
import type { DirectoryGroup, DirectoryGroupInput, GroupMember } from '../../store/directory-groups.ts';
import { record } from './user-mapping.ts';

export const CORE_GROUP_URN = 'urn:ietf:params:scim:schemas:core:2.0:Group';

/** A group request the client got wrong: answered with this status and SCIM error type. */
export class GroupRequestError extends Error {
  constructor(
    readonly status: number,
    readonly scimType: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'GroupRequestError';
  }
}

/** Longest displayName, externalId or member value we keep: far above any IdP's, far below a memory problem. */
const MAX_TEXT = 1024;

function text(value: unknown, what: string, options: { required: boolean }): string | null {
  if (value === undefined || value === null || value === '') {
    if (options.required) throw new GroupRequestError(400, 'invalidValue', `${what} is required`);
    return null;
  }
  if (typeof value !== 'string') throw new GroupRequestError(400, 'invalidValue', `${what} must be a string`);
  if (value.length > MAX_TEXT) throw new GroupRequestError(400, 'invalidValue', `${what} is longer than ${MAX_TEXT} characters`);
  return value;
}

/** The attribute of `body` named `name`, case-insensitively (RFC 7643 §2.1), with or without the core Group URN. */
export function attributeOf(body: Record<string, unknown>, name: string): unknown {
  const wanted = name.toLowerCase();
  const prefixed = `${CORE_GROUP_URN}:${wanted}`.toLowerCase();
  const key = Object.keys(body).find((k) => k.toLowerCase() === wanted || k.toLowerCase() === prefixed);
  return key === undefined ? undefined : body[key];
}

/**
 * Members as clients send them: `[{value, display?, $ref?, type?}]`. A single object is read
 * as a list of one (Entra's PATCH sometimes sends one), null or absent as none.
 */
export function membersFrom(value: unknown): GroupMember[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((item, index) => {
    const member = record(item);
    if (!member) throw new GroupRequestError(400, 'invalidValue', `members[${index}] must be an object with a "value"`);
    const type = attributeOf(member, 'type');
    if (typeof type === 'string' && type.toLowerCase() === 'group') {
      throw new GroupRequestError(
        400,
        'invalidValue',
        `members[${index}] is a group: nested groups are not provisioned here; push the users instead`,
      );
    }
    return {
      value: text(attributeOf(member, 'value'), `members[${index}].value`, { required: true })!,
      display: text(attributeOf(member, 'display'), `members[${index}].display`, { required: false }),
    };
  });
}

export function displayNameFrom(value: unknown): string {
  return text(value, 'displayName', { required: true })!;
}

export function externalIdFrom(value: unknown): string | null {
  return text(value, 'externalId', { required: false });
}

/** The directory group a POST or PUT body describes. `id`, `meta` and `schemas` are the server's and ignored. */
export function fromScimGroup(body: unknown): DirectoryGroupInput {
  const resource = record(body);
  if (!resource) throw new GroupRequestError(400, 'invalidSyntax', 'expected a Group resource (a JSON object)');
  return {
    displayName: displayNameFrom(attributeOf(resource, 'displayName')),
    externalId: externalIdFrom(attributeOf(resource, 'externalId')),
    members: membersFrom(attributeOf(resource, 'members')),
  };
}

/** The group's ETag (weak: the representation varies with `attributes`, the version does not). */
export function groupETag(group: Pick<DirectoryGroup, 'version'>): string {
  return `W/"${group.version}"`;
}

/** The SCIM resource for a directory group; `basepath` is the SCIM root (`.../scim/v2`). */
export function toScimGroup(group: DirectoryGroup, basepath: string, options: { members: boolean }): JsonObject {
  return {
    schemas: [CORE_GROUP_URN],
    id: group.id,
    ...(group.externalId !== null ? { externalId: group.externalId } : {}),
    displayName: group.displayName,
    ...(options.members
      ? {
          members: group.members.map((member) => ({
            value: member.value,
            $ref: `${basepath}/Users/${member.value}`,
            type: 'User',
            ...(member.display !== null ? { display: member.display } : {}),
          })),
        }
      : {}),
    meta: {
      resourceType: 'Group',
      created: group.createdAt.toISOString(),
      lastModified: group.updatedAt.toISOString(),
      location: `${basepath}/Groups/${group.id}`,
      version: groupETag(group),
    },
  };
}

/** Attributes every representation keeps (RFC 7643 §7: `returned: always`). */
const ALWAYS = new Set(['id', 'schemas']);

/**
 * The representation `attributes` / `excludedAttributes` ask for (RFC 7644 §3.4.2.5), by
 * top-level attribute: `members.value` keeps or drops `members` as a whole. Names were
 * checked against the Group schema by the query reader.
 */
export function projected(resource: JsonObject, query: { attributes?: string[]; excludedAttributes?: string[] }): JsonObject {
  const top = (names: string[]) =>
    new Set(
      names.map((name) =>
        name
          .trim()
          .replace(new RegExp(`^${CORE_GROUP_URN}:`, 'i'), '')
          .split('.')[0]!
          .toLowerCase(),
      ),
    );
  if (query.attributes && query.attributes.length > 0) {
    const keep = top(query.attributes);
    return Object.fromEntries(Object.entries(resource).filter(([key]) => ALWAYS.has(key) || keep.has(key.toLowerCase())));
  }
  if (query.excludedAttributes && query.excludedAttributes.length > 0) {
    const drop = top(query.excludedAttributes);
    return Object.fromEntries(Object.entries(resource).filter(([key]) => ALWAYS.has(key) || !drop.has(key.toLowerCase())));
  }
  return resource;
}

/** Whether the representation asked for includes the members (so they need not be read at all). */
export function wantsMembers(query: { attributes?: string[]; excludedAttributes?: string[] }): boolean {
  return 'members' in projected({ members: [] }, query);
}
