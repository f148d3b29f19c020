/**
 * How deep a JSON request body may nest, on every door (SCIM, webhook, admin). No request
 * we accept nests deeper than about six levels (a PATCH value holding the enterprise
 * manager); code that walks a body recursively (the SCIM repairs, SCIMMY's coercion, zod)
 * overflowed the stack on one nested 20,000 deep and answered 500.
 */
export const MAX_JSON_DEPTH = 32;

/** What a client is told when its body nests too deep. */
export const JSON_TOO_DEEP = `body: JSON nested deeper than ${MAX_JSON_DEPTH} levels`;

/** Whether `value` nests arrays and objects more than `max` levels deep. Iterative: a deep body cannot overflow it. */
export function jsonDepthExceeds(value: unknown, max = MAX_JSON_DEPTH): boolean {
  const pending: Array<[unknown, number]> = [[value, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, depth] = next;
    if (item === null || typeof item !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return false;
}
