/**
 * Replays a recorded SCIM request sequence (tests/fixtures/scim/*.json): named bodies
 * shared between steps, `{{var}}` substitution of ids saved from earlier answers, and the
 * checks a validator makes, evaluated into a list of failures instead of thrown, so a test
 * can assert both "our answer passes our checks" and "the validator's own check fails on
 * our answer" (a documented difference that stops being one is noticed).
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';

/** The checks of one answer. Paths are dotted (`name.formatted`, `members[0].value`); `[]` means every element. */
export interface ReplayExpect {
  /** The HTTP status, or the statuses any of which passes. */
  status?: number | number[];
  /** Each path holds exactly this JSON value (property names compared case-sensitively, as the validator does). */
  equals?: Record<string, unknown>;
  /** Each path holds an array of this length. */
  lengths?: Record<string, number>;
  present?: string[];
  absent?: string[];
  /** Texts the raw answer contains, or does not. */
  includes?: string[];
  excludes?: string[];
  /** Every value at the (`[]`) path is one of these. */
  oneOf?: Record<string, unknown[]>;
}

export interface ReplayStep {
  /** The request's position in the recorded collection (null: a request only the newer checks send). */
  n: number | null;
  folder: string;
  name: string;
  origin: 'postman' | 'playwright';
  request: { method: string; path: string; body?: unknown; raw?: string; note?: string };
  /** Variables to set from the answer: name -> path. */
  save?: Record<string, string>;
  /** What the recorded collection checks. */
  expect: ReplayExpect;
  /** Where we answer otherwise, as documented: why, and the checks of our answer. */
  ours?: { reason: string; expect: ReplayExpect };
}

export interface ReplayFixture {
  source: unknown;
  bodies: Record<string, unknown>;
  steps: ReplayStep[];
}

export interface ReplayAnswer {
  status: number;
  body: unknown;
  text: string;
}

type Vars = Map<string, string>;

/** The body with `$extends` (a named body, then these keys over it) and `$omit` (keys dropped) resolved. */
export function resolveBody(body: unknown, bodies: Record<string, unknown>, depth = 0): unknown {
  if (depth > 8) throw new Error('replay fixture: $extends nested too deep');
  const object = asObject(body);
  if (object === null || !('$extends' in object)) return body;
  const { $extends: base, $omit: omit, ...overrides } = object;
  if (typeof base !== 'string' || !(base in bodies)) throw new Error(`replay fixture: unknown body ${String(base)}`);
  const omitted = new Set((Array.isArray(omit) ? omit : []).map(String));
  const resolved = { ...asObject(resolveBody(bodies[base], bodies, depth + 1)), ...overrides };
  return Object.fromEntries(Object.entries(resolved).filter(([key]) => !omitted.has(key)));
}

/** Every `{{name}}` replaced by its saved value (`{{uuid}}`: a fresh UUID each time); an unknown name throws. */
export function substitute<T>(value: T, vars: Vars): T {
  if (typeof value === 'string') {
    return value.replace(/\{\{(\w+)\}\}/g, (_match, name: string) => {
      if (name === 'uuid') return randomUUID();
      const known = vars.get(name);
      if (known === undefined) throw new Error(`replay fixture: {{${name}}} is used before a step saved it`);
      return known;
    }) as T;
  }
  if (Array.isArray(value)) return value.map((item: unknown) => substitute(item, vars)) as T;
  const object = asObject(value);
  if (object === null) return value;
  return Object.fromEntries(Object.entries(object).map(([key, item]) => [key, substitute(item, vars)])) as T;
}

/** The variables a step saves, read from its answer. */
export function saveFrom(step: ReplayStep, answer: ReplayAnswer, vars: Vars): void {
  for (const [name, path] of Object.entries(step.save ?? {})) {
    const [value] = valuesAt(answer.body, path);
    if (typeof value !== 'string' || value === '') throw new Error(`${step.name}: no string at ${path} to save as ${name}`);
    vars.set(name, value);
  }
}

/** What of `expect` the answer fails, one line each (empty: it passes). */
export function failedChecks(expect: ReplayExpect, answer: ReplayAnswer, vars: Vars): string[] {
  const checks = substitute(expect, vars);
  const failures: string[] = [];
  const statuses = checks.status === undefined ? [] : [checks.status].flat();
  if (statuses.length > 0 && !statuses.includes(answer.status)) failures.push(`status ${answer.status}, expected ${statuses.join(' or ')}`);
  for (const [path, expected] of Object.entries(checks.equals ?? {})) {
    const found = valuesAt(answer.body, path);
    if (found.length !== 1 || !isDeepStrictEqual(found[0], expected))
      failures.push(`${path} is ${show(found)}, expected ${JSON.stringify(expected)}`);
  }
  for (const [path, length] of Object.entries(checks.lengths ?? {})) {
    const [found] = valuesAt(answer.body, path);
    if (!Array.isArray(found) || found.length !== length) failures.push(`${path} is ${show([found])}, expected ${length} items`);
  }
  for (const path of checks.present ?? []) if (valuesAt(answer.body, path).length === 0) failures.push(`${path} is missing`);
  for (const path of checks.absent ?? []) if (valuesAt(answer.body, path).length > 0) failures.push(`${path} is present`);
  for (const text of checks.includes ?? []) if (!answer.text.includes(text)) failures.push(`the answer lacks ${JSON.stringify(text)}`);
  for (const text of checks.excludes ?? []) if (answer.text.includes(text)) failures.push(`the answer has ${JSON.stringify(text)}`);
  for (const [path, allowed] of Object.entries(checks.oneOf ?? {})) {
    const stray = valuesAt(answer.body, path).filter((value) => !allowed.some((a) => isDeepStrictEqual(a, value)));
    if (stray.length > 0) failures.push(`${path} has ${show(stray)}, outside ${JSON.stringify(allowed)}`);
  }
  return failures;
}

/** The values at a dotted path (`a.b[0].c`, `Resources[].id`): none when a step is missing. */
export function valuesAt(root: unknown, path: string): unknown[] {
  let current: unknown[] = [root];
  for (const part of path.split('.')) {
    const match = /^([^[\]]+)((?:\[\d*\])*)$/.exec(part);
    if (!match) throw new Error(`replay fixture: bad path ${path}`);
    current = current.flatMap((value) => {
      const object = asObject(value);
      return object !== null && Object.hasOwn(object, match[1]!) && object[match[1]!] !== undefined ? [object[match[1]!]] : [];
    });
    for (const index of match[2]!.match(/\[\d*\]/g) ?? []) {
      const n = index.slice(1, -1);
      current = current.flatMap((value) => {
        if (!Array.isArray(value)) return [];
        if (n === '') return value as unknown[];
        return Number(n) < value.length ? [value[Number(n)] as unknown] : [];
      });
    }
  }
  return current;
}

function asObject(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function show(values: unknown[]): string {
  return values.length === 0 ? 'missing' : values.map((value) => JSON.stringify(value) ?? 'undefined').join(', ');
}
