/**
 * What keys a config block may hold, read from its zod schema, and the nearest one to a
 * key that is not among them: `rootURL` gets "did you mean rootUrl?".
 */
import { closest, distance } from 'fastest-levenshtein';
import { z } from 'zod';

/** The keys the schema accepts at `path` (through optional, default, pipe, record, array and union), or none. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current: z.ZodType | undefined = schema;
  for (const step of path) {
    current = child(unwrap(current), step);
    if (!current) return [];
  }
  return keysOf(unwrap(current));
}

export function didYouMean(key: string, candidates: string[]): string {
  if (candidates.length === 0) return '';
  const nearest = closest(key, candidates);
  // Case slips (rootURL) and a letter or two off (lyingrate): close enough to suggest.
  const close = nearest.toLowerCase() === key.toLowerCase() || distance(key, nearest) <= Math.max(2, Math.floor(key.length / 4));
  return close ? `; did you mean "${nearest}"?` : '';
}

/** `unknown key "rootURL"; did you mean "rootUrl"? (expected one of: ...)`. */
export function unknownKeyMessage(key: string, candidates: string[]): string {
  const known = candidates.length > 0 ? ` (expected one of: ${candidates.join(', ')})` : '';
  return `unknown key "${key}"${didYouMean(key, candidates)}${known}`;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const def = current._zod.def as { innerType?: z.ZodType; in?: z.ZodType; type: string };
    if (def.innerType) current = def.innerType;
    else if (def.type === 'pipe' && def.in) current = def.in;
    else return current;
  }
}

function child(schema: z.ZodType, step: PropertyKey): z.ZodType | undefined {
  if (schema instanceof z.ZodObject)
    return (schema.shape as Record<string, z.ZodType>)[String(step)] ?? (schema._zod.def.catchall as z.ZodType | undefined);
  if (schema instanceof z.ZodArray) return schema.element as z.ZodType;
  if (schema instanceof z.ZodRecord) return schema._zod.def.valueType as z.ZodType;
  if (schema instanceof z.ZodUnion) return (schema.options as z.ZodType[]).map((o) => child(unwrap(o), step)).find(Boolean);
  return undefined;
}

function keysOf(schema: z.ZodType): string[] {
  if (schema instanceof z.ZodObject) return Object.keys(schema.shape);
  if (schema instanceof z.ZodUnion) return [...new Set((schema.options as z.ZodType[]).flatMap((o) => keysOf(unwrap(o))))];
  return [];
}
