/**
 * The audit chain's hash: each entry covers its own fields and the previous entry's
 * hash, so editing, removing or reordering a row breaks every link after it.
 */
import { createHash } from 'node:crypto';
import type { JsonValue } from '../domain/types.ts';

export const GENESIS_HASH = '0'.repeat(64);

export interface ChainedFields {
  at: number;
  actor: string;
  action: string;
  terminationId: string | null;
  taskId: string | null;
  data: string;
}

/** JSON with sorted keys, so the same entry always hashes the same. */
export function canonicalJson(value: JsonValue | undefined): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value)
    .filter((k) => value[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
}

export function chainHash(prevHash: string, fields: ChainedFields): string {
  const body = canonicalJson({
    at: fields.at,
    actor: fields.actor,
    action: fields.action,
    terminationId: fields.terminationId,
    taskId: fields.taskId,
    data: fields.data,
  });
  return createHash('sha256').update(prevHash).update('\n').update(body).digest('hex');
}
