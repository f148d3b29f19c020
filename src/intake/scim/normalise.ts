/**
 * Request-body repairs applied before SCIMMY sees a body.
 *
 * Microsoft Entra sends booleans as strings: `{"op":"Replace","path":"active","value":"False"}`.
 * SCIMMY rejects a string for a boolean attribute with 400 (scimmy issue 51), which would
 * make Entra's deprovisioning fail forever. So `"True"`/`"False"` (any case) become
 * booleans for the boolean attributes of the User schema, in resource bodies and in PATCH
 * operations of both forms (`path: "active"` and `value: {active: ...}`).
 *
 * Entra also sets the enterprise manager as `"value": "<id>"` or `[{"$ref": null, "value":
 * "<id>"}]` (Microsoft's SCIM guide); SCIMMY wants `{"value": "<id>"}` and fails on null
 * members with a 400, which would quarantine the whole provisioning job. Both are reshaped,
 * and null members dropped (RFC 7644 §3.3: null means unassigned, the same as absent).
 */

/** Boolean attributes of the core User schema (RFC 7643 §4.1): `active`, and `primary` of the multi-valued ones. */
const BOOLEAN_ATTRIBUTES = new Set(['active', 'primary']);

function toBoolean(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const lower = value.trim().toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : value;
}

/** The last attribute name of a path: `active`, `urn:...:User:active`, `emails[type eq "work"].primary`. */
function leafAttribute(path: string): string {
  const withoutFilters = path.replace(/\[[^\]]*\]/g, '');
  const afterUrn = withoutFilters.slice(withoutFilters.lastIndexOf(':') + 1);
  return (afterUrn.split('.').at(-1) ?? '').toLowerCase();
}

/** A manager reference in Entra's shapes (`"id"`, `[{"value": "id"}]`) as the complex value RFC 7643 defines. */
function toManager(value: unknown): unknown {
  if (typeof value === 'string') return { value };
  if (Array.isArray(value) && value.length === 1) return value[0];
  return value;
}

/** The value of attribute `leaf`, repaired. */
function normaliseAttribute(leaf: string, value: unknown): unknown {
  if (BOOLEAN_ATTRIBUTES.has(leaf)) return toBoolean(value);
  if (leaf === 'manager') return normaliseResource(toManager(value));
  return normaliseResource(value);
}

/** Rewrites a resource-shaped value, at any depth. */
function normaliseResource(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normaliseResource);
  if (value === null || typeof value !== 'object') return value;
  // Built with fromEntries, which defines own properties: assigning a `__proto__` key
  // from the body would replace the new object's prototype instead.
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([, inner]) => inner !== null)
      // `urn:...:User:active` as a key in a value-object PATCH carries its attribute after the last colon.
      .map(([key, inner]) => [key, normaliseAttribute(leafAttribute(key), inner)]),
  );
}

/** Returns the body with string booleans repaired; anything that is not a SCIM body comes back unchanged. */
export function normaliseScimBody(body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const record = body as Record<string, unknown>;
  if (Array.isArray(record.Operations)) {
    return {
      ...record,
      Operations: record.Operations.map((operation: unknown) => {
        if (operation === null || typeof operation !== 'object' || Array.isArray(operation)) return operation;
        const op = operation as Record<string, unknown>;
        if (!('value' in op)) return op;
        if (typeof op.path === 'string' && op.path.length > 0) {
          return { ...op, value: normaliseAttribute(leafAttribute(op.path), op.value) };
        }
        return { ...op, value: normaliseResource(op.value) };
      }),
    };
  }
  return normaliseResource(record);
}
