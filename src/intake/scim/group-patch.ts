/**
 * PATCH of a Group (RFC 7644 §3.5.2) in the forms Entra and Okta send, applied to the
 * stored group to give its next state (the store diffs the members and audits the change).
 *
 * - Entra: `{"op":"Add","path":"members","value":[{"value":"<id>"}]}`; remove as
 *   `{"op":"Remove","path":"members","value":[{"value":"<id>"}]}` (a value list: remove
 *   those, not every member) or `{"op":"Remove","path":"members[value eq \"<id>\"]"}`;
 *   `{"op":"Replace","path":"displayName","value":"…"}` or without path; op names capitalised.
 * - Okta: `{"op":"replace","value":{"id":"…","displayName":"…"}}`, members added with
 *   `path: "members"` and removed with `path: "members[value eq \"<id>\"]"`.
 *
 * Attribute names are case-insensitive, with or without the core Group URN.
 */
import type { DirectoryGroupInput, GroupMember } from '../../store/directory-groups.ts';
import { InvalidFilterError, matchesFilter, parseFilter, type AttributeResolver, type FilterNode } from './filter.ts';
import { CORE_GROUP_URN, GroupRequestError, attributeOf, displayNameFrom, externalIdFrom, membersFrom } from './group-mapping.ts';
import { record } from './user-mapping.ts';

const PATCH_OP_URN = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** Operations one PATCH may carry: an IdP sends one to a few; thousands only cost CPU. */
export const MAX_PATCH_OPERATIONS = 1000;

/** Keys of a path-less value the server owns: Okta repeats the group's `id` in it. */
const SERVER_OWNED = new Set(['id', 'schemas', 'meta']);

type Op = 'add' | 'remove' | 'replace';

function invalid(scimType: string, message: string): GroupRequestError {
  return new GroupRequestError(400, scimType, message);
}

/** The path without the core Group URN, lower-cased for comparison, filters kept as written. */
function stripUrn(path: string): string {
  return path.toLowerCase().startsWith(`${CORE_GROUP_URN.toLowerCase()}:`) ? path.slice(CORE_GROUP_URN.length + 1) : path;
}

function withMembers(group: DirectoryGroupInput, members: GroupMember[]): DirectoryGroupInput {
  return { ...group, members };
}

/** Members first, added ones after: an added member already present keeps its place and takes the new display. */
function addMembers(group: DirectoryGroupInput, added: GroupMember[]): DirectoryGroupInput {
  const byId = new Map(group.members.map((m) => [m.value, m]));
  for (const member of added) byId.set(member.value, member);
  return withMembers(group, [...byId.values()]);
}

function removeMembers(group: DirectoryGroupInput, keep: (member: GroupMember) => boolean): DirectoryGroupInput {
  return withMembers(group, group.members.filter(keep));
}

function applyAttribute(group: DirectoryGroupInput, op: Op, name: string, value: unknown, hasValue: boolean): DirectoryGroupInput {
  switch (name.toLowerCase()) {
    case 'displayname':
      if (op === 'remove') throw invalid('mutability', 'displayName is required and cannot be removed; replace it instead');
      return { ...group, displayName: displayNameFrom(value) };
    case 'externalid':
      return { ...group, externalId: op === 'remove' ? null : externalIdFrom(value) };
    case 'members':
      if (op === 'add') return addMembers(group, membersFrom(value));
      if (op === 'replace') return withMembers(group, dedupe(membersFrom(value)));
      // Entra's remove carries the members to remove as a value list; without one, all go (RFC 7644 §3.5.2.2).
      if (hasValue) {
        const gone = new Set(membersFrom(value).map((m) => m.value));
        return removeMembers(group, (m) => !gone.has(m.value));
      }
      return withMembers(group, []);
    default:
      throw invalid('invalidPath', `"${name}" is not an attribute a Group PATCH can change here (displayName, externalId, members)`);
  }
}

function dedupe(members: GroupMember[]): GroupMember[] {
  return [...new Map(members.map((m) => [m.value, m])).values()];
}

/** `members[<filter>]`: the filter, parsed as the query filter is, against the Group schema. */
function memberFilter(path: string, resolve: AttributeResolver): FilterNode | null {
  if (!/^members\s*\[/i.test(path)) return null;
  if (!path.trimEnd().endsWith(']'))
    throw invalid('invalidPath', `"${path}": only whole members can be selected (members[value eq "<id>"])`);
  try {
    const node = parseFilter(path, resolve);
    if (node.kind !== 'valuePath') throw new InvalidFilterError('expected members[<filter>]');
    return node;
  } catch (error) {
    if (error instanceof InvalidFilterError) throw invalid('invalidPath', `"${path}": ${error.message}`);
    throw error;
  }
}

function applyOperation(
  group: DirectoryGroupInput,
  operation: Record<string, unknown>,
  index: number,
  resolve: AttributeResolver,
): DirectoryGroupInput {
  const rawOp = operation.op;
  const op = typeof rawOp === 'string' ? rawOp.toLowerCase() : '';
  if (op !== 'add' && op !== 'remove' && op !== 'replace')
    throw invalid('invalidSyntax', `Operations[${index}].op must be add, remove or replace`);
  const hasValue = 'value' in operation && operation.value !== null && operation.value !== undefined;
  const path = operation.path;
  if (path === undefined || path === null || path === '') {
    if (op === 'remove') throw invalid('noTarget', `Operations[${index}]: remove needs a path`);
    const value = record(operation.value);
    if (!value) throw invalid('invalidValue', `Operations[${index}]: without a path, value must be an object of attributes`);
    let next = group;
    for (const [key, inner] of Object.entries(value)) {
      const name = stripUrn(key);
      if (SERVER_OWNED.has(name.toLowerCase())) continue;
      next = applyAttribute(next, op, name, inner, true);
    }
    return next;
  }
  if (typeof path !== 'string') throw invalid('invalidPath', `Operations[${index}].path must be a string`);
  const name = stripUrn(path.trim());
  const filter = memberFilter(name, resolve);
  if (filter) {
    if (op !== 'remove')
      throw invalid(
        'invalidPath',
        `Operations[${index}]: ${op} with a member filter is not supported; use "path": "members" with a value list`,
      );
    return removeMembers(
      group,
      (member) => !matchesFilter(filter, { members: [{ value: member.value, display: member.display ?? undefined, type: 'User' }] }),
    );
  }
  if (op !== 'remove' && !hasValue) throw invalid('invalidValue', `Operations[${index}]: ${op} needs a value`);
  return applyAttribute(group, op, name, operation.value, hasValue);
}

/** The group after the PATCH `body`, or GroupRequestError for a body the client got wrong (nothing applied). */
export function applyGroupPatch(group: DirectoryGroupInput, body: unknown, resolve: AttributeResolver): DirectoryGroupInput {
  const message = record(body);
  if (!message) throw invalid('invalidSyntax', 'expected a PatchOp message (a JSON object)');
  const schemas = message.schemas;
  if (!Array.isArray(schemas) || !schemas.includes(PATCH_OP_URN)) throw invalid('invalidSyntax', `schemas must include ${PATCH_OP_URN}`);
  const operations = attributeOf(message, 'Operations');
  if (!Array.isArray(operations) || operations.length === 0) throw invalid('invalidSyntax', 'Operations must be a non-empty array');
  if (operations.length > MAX_PATCH_OPERATIONS)
    throw invalid('invalidSyntax', `more than ${MAX_PATCH_OPERATIONS} operations; send them in several requests`);
  return operations.reduce<DirectoryGroupInput>((next, operation, index) => {
    const op = record(operation);
    if (!op) throw invalid('invalidSyntax', `Operations[${index}] must be an object`);
    return applyOperation(next, op, index, resolve);
  }, group);
}
