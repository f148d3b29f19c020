/**
 * The query a SCIM request carries (RFC 7644 §3.4.2, §3.4.3, §4), read once and checked
 * before SCIMMY sees it: `filter`, `attributes`, `excludedAttributes`, `startIndex` and
 * `count`, from the query string or a `.search` body.
 *
 * - The filter is parsed here, once, by our parser (bounded, see FILTER_LIMITS), and taken
 *   out of what SCIMMY receives: SCIMMY's own parser crashes on some expressions and would
 *   parse the same filter again for every resource it builds.
 * - Attribute lists name attributes of the resource's schema, or the schema and extension
 *   URNs themselves. Anything else (`__proto__`, `not`) crashed SCIMMY's parser with a 500.
 * - Paging numbers are integers of at most 2^31-1. A larger `startIndex` reached the store
 *   as an OFFSET it refused, and the answer was a 503 an IdP retries for ever.
 * - Discovery endpoints ignore query parameters, and refuse a filter with 403 so a client
 *   never believes a filter held (RFC 7644 §4).
 */
import SCIMMY from 'scimmy';
import { InvalidFilterError, parseFilter, rootResolver, schemaResolver, type AttributeResolver, type FilterNode } from './filter.ts';

/** A query the client got wrong: answered with this status and SCIM error type. */
export class ScimQueryError extends Error {
  constructor(
    readonly status: number,
    readonly scimType: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'ScimQueryError';
  }
}

/** Largest `startIndex` and `count`: a 32-bit signed integer, which every store takes as an OFFSET or LIMIT. */
export const MAX_PAGING_NUMBER = 2 ** 31 - 1;

/** Most names an `attributes` or `excludedAttributes` list may carry; the User schema has fewer than 40. */
export const MAX_ATTRIBUTE_NAMES = 50;

const DISCOVERY = new Set(['schemas', 'resourcetypes', 'serviceproviderconfig', 'serviceconfiguration']);
const PAGING = ['startIndex', 'count'] as const;
const ATTRIBUTE_LISTS = ['attributes', 'excludedAttributes'] as const;

interface SchemaView {
  resolve: AttributeResolver;
  /** Lower-cased URNs a list may name whole: the schema's and its extensions'. */
  urns: Set<string>;
  name: string;
}

function schemaView(definition: SCIMMY.Types.SchemaDefinition): SchemaView {
  const extensions = (definition.attributes as unknown[]).filter(
    (a): a is SCIMMY.Types.SchemaDefinition => a instanceof SCIMMY.Types.SchemaDefinition,
  );
  return {
    resolve: schemaResolver(definition),
    urns: new Set([definition.id, ...extensions.map((e) => e.id)].map((id) => id.toLowerCase())),
    name: definition.name,
  };
}

/** `attributes` / `excludedAttributes` as one resource type can honour them. */
export interface ScimLists {
  attributes?: string[];
  excludedAttributes?: string[];
}

/** A root search (POST /.search) as each resource type reads it. */
export type RootSearchQuery = Record<'users' | 'groups', { filter: FilterNode | null; lists: ScimLists }>;

export interface ScimQueryReader {
  /**
   * Checks the request's query (and `.search` body), removes the filter from both, and
   * returns the parsed filter (null without one). Throws ScimQueryError. The root
   * `POST /.search` is left to readRootSearch: its filter spans resource types.
   */
  read(request: { method: string; path: string; query: Record<string, unknown>; body: unknown }): FilterNode | null;
  /**
   * The body of a root `POST /.search` (RFC 7644 §3.4.3): its filter parsed for Users and
   * for Groups (an attribute only the other type has is one this type never has) and taken
   * out of the body, its attribute names checked against either schema and split into what
   * each type knows, its paging bounded. Throws ScimQueryError.
   */
  readRootSearch(body: Record<string, unknown>): RootSearchQuery;
}

/** Built once the SCIM resources are declared: the User schema carries its extension from then on. */
export function scimQueryReader(): ScimQueryReader {
  const users = schemaView(SCIMMY.Schemas.User.definition);
  const groups = schemaView(SCIMMY.Schemas.Group.definition);
  const either: SchemaView = {
    resolve: rootResolver(users.resolve, groups.resolve),
    urns: new Set([...users.urns, ...groups.urns]),
    name: 'User or Group',
  };
  return {
    readRootSearch(body) {
      const expression: Record<string, unknown> = 'filter' in body ? { filter: body.filter } : {};
      delete body.filter;
      checkBodyLists(body, either);
      checkBodyPaging(body);
      return {
        users: { filter: takeFilter({ ...expression }, either), lists: listsFor(body, users) },
        groups: {
          filter: takeFilter({ ...expression }, { ...groups, resolve: rootResolver(groups.resolve, users.resolve) }),
          lists: listsFor(body, groups),
        },
      };
    },
    read({ method, path, query, body }) {
      const first = path.split('/').find(Boolean)?.toLowerCase() ?? '';
      if (first === '.search') return null;
      if (DISCOVERY.has(first)) {
        if ('filter' in query)
          throw new ScimQueryError(403, null, 'filter: discovery endpoints cannot be filtered (RFC 7644 §4); ask without a filter');
        // The caller's query object is emptied in place (the contract above): there is no Map to use instead.
        // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- see above
        for (const key of Object.keys(query)) delete query[key];
        return null;
      }
      const schema = first === 'groups' ? groups : users;
      let filter = takeFilter(query, schema);
      checkQueryLists(query, schema);
      checkQueryPaging(query);
      if (method === 'POST' && path.endsWith('/.search') && isRecord(body)) {
        filter = takeFilter(body, schema) ?? filter;
        checkBodyLists(body, schema);
        checkBodyPaging(body);
      }
      return filter;
    },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function takeFilter(source: Record<string, unknown>, schema: SchemaView): FilterNode | null {
  if (!('filter' in source)) return null;
  const expression = source.filter;
  delete source.filter;
  if (typeof expression !== 'string' || expression.trim() === '')
    throw new ScimQueryError(400, 'invalidFilter', 'filter: expected one non-empty string');
  try {
    return parseFilter(expression, schema.resolve);
  } catch (error) {
    if (error instanceof InvalidFilterError) throw new ScimQueryError(400, 'invalidFilter', `filter: ${error.message}`);
    throw error;
  }
}

function checkQueryLists(query: Record<string, unknown>, schema: SchemaView): void {
  for (const param of ATTRIBUTE_LISTS) {
    if (!(param in query)) continue;
    const value = query[param];
    if (typeof value !== 'string')
      throw new ScimQueryError(400, 'invalidValue', `${param}: expected one comma-separated list of attribute names`);
    checkNames(param, value.split(','), schema);
  }
}

function checkBodyLists(body: Record<string, unknown>, schema: SchemaView): void {
  for (const param of ATTRIBUTE_LISTS) {
    const value = body[param];
    if (value === undefined) continue;
    if (!Array.isArray(value) || !value.every((name) => typeof name === 'string')) {
      throw new ScimQueryError(400, 'invalidValue', `${param}: expected an array of attribute names`);
    }
    checkNames(param, value, schema);
  }
}

function checkNames(param: string, names: string[], schema: SchemaView): void {
  if (names.length > MAX_ATTRIBUTE_NAMES)
    throw new ScimQueryError(400, 'invalidValue', `${param}: more than ${MAX_ATTRIBUTE_NAMES} attribute names`);
  for (const raw of names) {
    const name = raw.trim();
    if (schema.urns.has(name.toLowerCase())) continue;
    try {
      if (name === '') throw new InvalidFilterError('empty attribute name');
      schema.resolve(name);
    } catch (error) {
      if (!(error instanceof InvalidFilterError)) throw error;
      throw new ScimQueryError(
        400,
        'invalidValue',
        `${param}: ${JSON.stringify(name.slice(0, 100))} is not an attribute of the ${schema.name} schema (for example userName, emails.value, name.givenName)`,
      );
    }
  }
}

/** The names of a (checked) `.search` body's lists that this schema knows; `attributes` naming none of them keeps only what is always returned. */
function listsFor(body: Record<string, unknown>, schema: SchemaView): ScimLists {
  const lists: ScimLists = {};
  for (const param of ATTRIBUTE_LISTS) {
    const names = body[param];
    if (!Array.isArray(names) || names.length === 0) continue;
    const known = (names as string[]).filter((name) => knows(schema, name.trim()));
    if (known.length > 0) lists[param] = known;
    else if (param === 'attributes') lists.attributes = ['id'];
  }
  return lists;
}

function knows(schema: SchemaView, name: string): boolean {
  if (schema.urns.has(name.toLowerCase())) return true;
  try {
    schema.resolve(name);
    return true;
  } catch (error) {
    if (error instanceof InvalidFilterError) return false;
    throw error;
  }
}

/** `startIndex` and `count` as numbers, so SCIMMY's paging sees them (Express hands over strings). */
function checkQueryPaging(query: Record<string, unknown>): void {
  for (const param of PAGING) {
    if (!(param in query)) continue;
    const value = query[param];
    // RFC 7644 §3.4.2.4: a startIndex below 1 means 1 and a negative count means 0, so those stay accepted.
    if (typeof value !== 'string' || !/^\s*[-+]?\d{1,10}\s*$/.test(value)) throw pagingError(param);
    const number = Number(value);
    if (Math.abs(number) > MAX_PAGING_NUMBER) throw pagingError(param);
    query[param] = number;
  }
}

function checkBodyPaging(body: Record<string, unknown>): void {
  for (const param of PAGING) {
    const value = body[param];
    if (value === undefined) continue;
    // Positive integers are SCIMMY's own rule for a SearchRequest; the bound is ours.
    if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) > MAX_PAGING_NUMBER) throw pagingError(param);
  }
}

function pagingError(param: string): ScimQueryError {
  return new ScimQueryError(400, 'invalidValue', `${param}: expected an integer no larger than ${MAX_PAGING_NUMBER}`);
}
