/**
 * `playbookRules`: which playbook a leaver gets, from what the IdP pushed about them over
 * SCIM (their groups, and attributes such as `userType` or the enterprise extension's
 * `department`). Contractors, executives and engineers with production access usually
 * leave differently, and the IdP's groups are where that is already written down.
 */
import type { PlaybookRule } from '../config/schema.ts';
import type { JsonObject, Subject } from '../domain/types.ts';
import type { GroupSummary } from '../store/directory-groups.ts';
import type { Store } from '../store/store.ts';

/** What the rules read about a leaver: their directory entry's attributes and groups. */
export interface LeaverFacts {
  attributes: JsonObject;
  groups: GroupSummary[];
}

/**
 * The leaver's directory entry (by userName, else externalId) and groups; null when the
 * directory does not know them (a leaver named only by a webhook or an operator), for whom
 * no rule can match.
 */
export async function leaverFacts(store: Pick<Store, 'directory' | 'groups'>, subject: Subject): Promise<LeaverFacts | null> {
  const user =
    (subject.userName ? await store.directory.findByUserName(subject.userName) : null) ??
    (subject.externalId ? (await store.directory.findByExternalId(subject.externalId))[0] : null) ??
    null;
  if (!user) return null;
  return { attributes: user.attributes, groups: await store.groups.groupsOf(user.id) };
}

/** The first rule the facts satisfy, or null (the default playbook applies). */
export function matchingRule(rules: readonly PlaybookRule[], facts: LeaverFacts | null): PlaybookRule | null {
  if (!facts) return null;
  return rules.find((rule) => matches(rule, facts)) ?? null;
}

function matches(rule: PlaybookRule, facts: LeaverFacts): boolean {
  const { groups, attributes } = rule.when;
  if (groups) {
    const wanted = new Set(groups.map(fold));
    const member = facts.groups.some(
      (group) => wanted.has(fold(group.displayName)) || (group.externalId !== null && wanted.has(fold(group.externalId))),
    );
    if (!member) return false;
  }
  for (const [path, values] of Object.entries(attributes ?? {})) {
    const wanted = new Set(values.map(fold));
    if (!valuesAt(facts.attributes, path).some((value) => wanted.has(fold(value)))) return false;
  }
  return true;
}

const fold = (value: string) => value.toLowerCase();

/**
 * The scalar values at a SCIM attribute path, as text: `userType`, `name.familyName`, or an
 * extension attribute by its URN (`urn:…:enterprise:2.0:User:department`). Keys compare
 * case-insensitively (RFC 7643 §2.1); multi-valued attributes give each of their values.
 */
export function valuesAt(attributes: JsonObject, path: string): string[] {
  const colon = path.lastIndexOf(':');
  const [container, rest] = colon >= 0 ? [path.slice(0, colon), path.slice(colon + 1)] : [null, path];
  let current: unknown[] = [container === null ? attributes : child(attributes, container)];
  for (const name of rest.split('.')) current = current.flatMap(elements).map((value) => child(value, name));
  return current
    .flatMap(elements)
    .filter(
      (value): value is string | number | boolean => typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean',
    )
    .map(String);
}

/** A multi-valued attribute's values, or a single value on its own. */
function elements(value: unknown): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [value];
}

function child(value: unknown, name: string): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const key = Object.keys(value).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : (value as Record<string, unknown>)[key];
}
