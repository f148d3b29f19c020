/**
 * Validates one part of a request; a failure is a 400 that names the field, prefixed with
 * `root`: the part it came from ('body', 'query', or a header name such as 'Idempotency-Key').
 */
import type { z } from 'zod';
import { invalidInput } from '../server/http-errors.ts';

export function parse<S extends z.ZodType>(schema: S, value: unknown, root: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw invalidInput(result.error, root);
  return result.data;
}
