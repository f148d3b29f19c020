/**
 * Reads a YAML config, substitutes `${VAR}` / `${VAR:-default}` from the environment in
 * string values, and validates it. Every problem is reported with the file, the path
 * inside it, its line, and what was expected.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isScalar, type Document } from 'yaml';
import type { z } from 'zod';
import { keysAt, unknownKeyMessage } from './known-keys.ts';
import { configSchema, type Config, type ProviderConfig } from './schema.ts';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid configuration in ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [`cannot read the file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`]);
  }
  return parseConfig(text, file, env);
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      // prettyErrors puts "at line N, column M" into the first line of each message.
      doc.errors.map((e) => e.message.split('\n')[0]!),
    );
  }
  const problems: string[] = [];
  const raw = interpolate(doc.toJS(), [], env, (path, message) => problems.push(`${describe(doc, lineCounter, path)}: ${message}`));
  if (problems.length > 0) throw new ConfigError(file, problems);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success)
    throw new ConfigError(
      file,
      parsed.error.issues.flatMap((issue) => formatIssue(doc, lineCounter, issue, [])),
    );
  const where = (path: Array<string | number>) => describe(doc, lineCounter, path);
  locations.set(parsed.data, where);
  for (const [name, entry] of Object.entries(parsed.data.providers)) locations.set(entry, (path) => where(['providers', name, ...path]));
  return parsed.data;
}

/**
 * Where each part of a loaded config came from. Checks that run after the schema (provider
 * settings, playbooks against provider capabilities) need the lines too.
 */
const locations = new WeakMap<Config | ProviderConfig, (path: Array<string | number>) => string>();

/** `playbooks.employee.steps[3].action (line 41)`; the bare path for a config built in code. */
export function locate(config: Config, path: Array<string | number>): string {
  return locations.get(config)?.(path) ?? pathName(path);
}

/** The same inside one provider block, which the provider kind's own schema checks. */
export function locateInProvider(entry: ProviderConfig, name: string, path: Array<string | number>): string {
  return locations.get(entry)?.(path) ?? pathName(['providers', name, ...path]);
}

function interpolate(
  value: unknown,
  path: Array<string | number>,
  env: NodeJS.ProcessEnv,
  report: (path: Array<string | number>, message: string) => void,
): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REFERENCE, (_whole, name: string, fallback: string | undefined) => {
      const found = Object.hasOwn(env, name) ? env[name] : undefined;
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      report(path, `environment variable ${name} is not set (write \${${name}:-default} to give a default)`);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, [...path, i], env, report));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, [...path, k], env, report)]));
  }
  return value;
}

function formatIssue(doc: Document, lineCounter: LineCounter, issue: z.core.$ZodIssue, prefix: PropertyKey[]): string[] {
  const path = [...prefix, ...issue.path].map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (issue.code === 'unrecognized_keys') {
    const known = keysAt(configSchema, path);
    return issue.keys.map((key) => `${describe(doc, lineCounter, [...path, key])}: ${unknownKeyMessage(key, known)}`);
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // "Invalid input" helps nobody: report the alternative that came closest (fewest problems).
    const nearest = issue.errors.reduce((a, b) => (b.length < a.length ? b : a));
    if (nearest.length > 0) return nearest.flatMap((inner) => formatIssue(doc, lineCounter, inner, path));
  }
  // Never echo a received value: it may be a secret.
  return [`${describe(doc, lineCounter, path)}: ${issue.message}`];
}

/** `providers.okta.limits.concurrency (line 12)`, or `(top level)`. */
function describe(doc: Document, lineCounter: LineCounter, path: Array<string | number>): string {
  const name = pathName(path);
  // Point at the deepest node that exists: a missing key is reported at its parent.
  for (let depth = path.length; depth >= 0; depth -= 1) {
    const node = doc.getIn(path.slice(0, depth), true);
    const range =
      isScalar(node) || (node && typeof node === 'object' && 'range' in node)
        ? (node as { range?: [number, number, number] }).range
        : undefined;
    if (range) return `${name} (line ${lineCounter.linePos(range[0]).line})`;
  }
  return name;
}

function pathName(path: Array<string | number>): string {
  return path.length > 0
    ? path
        .map((p) => (typeof p === 'number' ? `[${p}]` : p))
        .join('.')
        .replace(/\.\[/g, '[')
    : '(top level)';
}
