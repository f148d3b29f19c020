/**
 * The PATCH that sets `active`, served without SCIMMY's round trips.
 *
 * SCIMMY serves a PATCH by coercing the User six times (the read, the PatchOp's working
 * copy, the write's inbound copy, the handler's answer, the finalised copy, the response);
 * under the intake benchmark that cost more CPU per request than a bare SCIMMY server's
 * whole request. A PATCH whose one operation replaces `active` is what every deactivation
 * and rehire sends (Okta: `{op: "replace", value: {active: false}}`; Entra: `{op:
 * "Replace", path: "active", value: "False"}`, its string made a boolean by normalise.ts),
 * so that shape alone is served here: ScimUserService.setActive changes the one attribute
 * on the stored entry, and the answer is coerced once. Any other body, and that shape with
 * a query (`attributes`, `excludedAttributes`), goes to SCIMMY unchanged.
 */
import SCIMMY from 'scimmy';
import { record } from './user-mapping.ts';

const PATCH_OP_URN = SCIMMY.Messages.PatchOp.id;

function onlyKeys(object: Record<string, unknown>, allowed: readonly string[]): boolean {
  return Object.keys(object).every((key) => allowed.includes(key));
}

/** The `active` value such a PATCH sets, or null when the request is any other (SCIMMY serves it). */
export function activeOnlyPatch(body: unknown, query: object): boolean | null {
  if (Object.keys(query).length > 0) return null;
  const message = record(body);
  if (!message || !onlyKeys(message, ['schemas', 'Operations'])) return null;
  const { schemas, Operations: operations } = message;
  if (!Array.isArray(schemas) || schemas.length !== 1 || schemas[0] !== PATCH_OP_URN) return null;
  if (!Array.isArray(operations) || operations.length !== 1) return null;
  const operation = record(operations[0]);
  if (
    !operation ||
    !onlyKeys(operation, ['op', 'path', 'value']) ||
    typeof operation.op !== 'string' ||
    operation.op.toLowerCase() !== 'replace'
  )
    return null;
  if (operation.path !== undefined) return operation.path === 'active' && typeof operation.value === 'boolean' ? operation.value : null;
  const value = record(operation.value);
  return value && onlyKeys(value, ['active']) && typeof value.active === 'boolean' ? value.active : null;
}

/**
 * The id in a `/Users/<id>` path, or null for any other path. Matched here rather than by
 * an express route: a route decodes its parameters for every method and would answer a
 * malformed escape (`%C0%AE`) on any request 500; here it is left to SCIMMY's router.
 */
export function userIdOf(path: string): string | null {
  const match = /^\/Users\/([^/]+)\/?$/i.exec(path);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return null;
  }
}
