/** Validates one part of a request; a failure is a 400 that names the field. */
import type { z } from 'zod';
import { invalidInput } from '../server/http-errors.ts';

export function parse<S extends z.ZodType>(schema: S, value: unknown, root: 'body' | 'query' | string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw invalidInput(result.error, root);
  return result.data;
}
