/**
 * Between the three shapes of a user: the SCIM resource (what clients send and read), the
 * directory entry (what the store keeps), and the termination's Subject (what provider
 * adapters resolve accounts from).
 */
import type { JsonObject, Subject } from '../../domain/types.ts';
import type { GroupSummary } from '../../store/directory-groups.ts';
import type { DirectoryUser, DirectoryUserInput } from '../../store/directory.ts';

export const CORE_USER_URN = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE_USER_URN = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/**
 * Attributes never kept: the server owns id and meta; `password` is a secret (Okta sends
 * one when password sync is on) and nothing here needs it; `groups` is read-only in RFC 7643.
 */
const NOT_STORED = new Set(['id', 'meta', 'schemas', 'password', 'groups']);

/** Plain JSON of a SCIMMY schema instance (its toJSON drops unset attributes). */
function plain(value: unknown): JsonObject {
  return JSON.parse(JSON.stringify(value ?? {})) as JsonObject;
}

/** The value as a JSON object, or null for anything else (arrays included). */
export function record(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

/**
 * The directory entry for a User resource that SCIMMY has already checked against the
 * schema. `active` is left undefined when the body had none: the caller decides (an absent
 * `active` never means a deactivation, nor a rehire).
 */
export function fromScimUser(instance: unknown): Omit<DirectoryUserInput, 'active'> & { active: boolean | undefined } {
  const attributes: JsonObject = Object.fromEntries(Object.entries(plain(instance)).filter(([key]) => !NOT_STORED.has(key)));
  const userName = typeof attributes.userName === 'string' ? attributes.userName : '';
  const externalId = typeof attributes.externalId === 'string' && attributes.externalId !== '' ? attributes.externalId : null;
  const active = typeof attributes.active === 'boolean' ? attributes.active : undefined;
  const manager = record(record(attributes[ENTERPRISE_USER_URN])?.manager);
  const managerId = typeof manager?.value === 'string' && manager.value !== '' ? manager.value : null;
  return { userName, externalId, active, managerId, attributes };
}

/** The groups a user is a member of, and the base path of their `$ref` (`/scim/v2/Groups`). */
export interface UserGroups {
  of: readonly GroupSummary[];
  basepath: string;
}

/**
 * The SCIM resource for a directory entry, ready for SCIMMY's outbound formatting. Given the
 * resource type's base path, `meta.location` is set where SCIMMY's User schema puts it
 * (before `version`), so that coercing this object gives the bytes a User instance would.
 * Given its groups, the read-only `groups` attribute (RFC 7643 §4.1.2) lists them, all
 * `direct` (groups have no nested groups here); a user in no group has none.
 */
export function toScimUser(user: DirectoryUser, basepath?: string, groups?: UserGroups): JsonObject {
  return {
    ...user.attributes,
    id: user.id,
    ...(user.externalId !== null ? { externalId: user.externalId } : {}),
    userName: user.userName,
    active: user.active,
    ...(groups && groups.of.length > 0
      ? {
          groups: groups.of.map((group) => ({
            value: group.id,
            $ref: `${groups.basepath}/${group.id}`,
            display: group.displayName,
            type: 'direct',
          })),
        }
      : {}),
    meta: {
      resourceType: 'User',
      created: user.createdAt.toISOString(),
      lastModified: user.updatedAt.toISOString(),
      ...(basepath !== undefined ? { location: `${basepath}/${user.id}` } : {}),
      version: `W/"${user.version}"`,
    },
  };
}

function emailsOf(attributes: JsonObject): string[] {
  const emails = Array.isArray(attributes.emails) ? attributes.emails.map(record).filter((e) => e !== null) : [];
  // Primary first: adapters that try one address try the one the IdP marked.
  const sorted = [...emails].sort((a, b) => Number(b.primary === true) - Number(a.primary === true));
  const values = sorted.map((e) => (typeof e.value === 'string' ? e.value.trim() : '')).filter((v) => v !== '');
  return [...new Set(values)];
}

function displayNameOf(attributes: JsonObject): string | undefined {
  if (typeof attributes.displayName === 'string' && attributes.displayName.trim()) return attributes.displayName.trim();
  const name = record(attributes.name);
  if (typeof name?.formatted === 'string' && name.formatted.trim()) return name.formatted.trim();
  const parts = [name?.givenName, name?.familyName].filter((p): p is string => typeof p === 'string' && p.trim() !== '');
  return parts.length > 0 ? parts.join(' ') : undefined;
}

/** The termination's Subject, from the entry (and the manager's own entry when we have it). */
export function subjectOf(
  user: Pick<DirectoryUser, 'userName' | 'externalId' | 'attributes'>,
  manager: Pick<DirectoryUser, 'userName' | 'externalId' | 'attributes'> | null,
): Subject {
  const subject: Subject = { userName: user.userName, emails: emailsOf(user.attributes) };
  if (user.externalId) subject.externalId = user.externalId;
  const displayName = displayNameOf(user.attributes);
  if (displayName) subject.displayName = displayName;
  if (manager) {
    const email = emailsOf(manager.attributes)[0];
    subject.manager = {
      userName: manager.userName,
      ...(manager.externalId ? { externalId: manager.externalId } : {}),
      ...(email ? { email } : {}),
    };
  }
  return subject;
}
