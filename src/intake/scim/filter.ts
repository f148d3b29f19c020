/**
 * SCIM filters (RFC 7644 §3.4.2.2): parse, check against the resource schema, evaluate,
 * and find the indexed lookups a filter allows.
 *
 * Our own parser rather than SCIMMY.Types.Filter: SCIMMY distributes `not (a or b)` into
 * `not a or not b` (wrong by De Morgan) and compares every value case-sensitively, while
 * RFC 7643 makes userName and emails case-insensitive (`caseExact: false`). Attribute
 * types and case rules still come from SCIMMY's schema definitions, so there is one
 * source of truth for the schema.
 */
import SCIMMY from 'scimmy';

export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';
type Literal = string | number | boolean | null;

export interface AttributeInfo {
  /** Canonical path into the resource JSON: `[attr, sub?]`, or `[extensionUrn, attr, sub?]`. */
  segments: string[];
  type: string;
  caseExact: boolean;
  multiValued: boolean;
  /** For a multi-valued complex attribute: its `value` sub-attribute, which a bare comparison means. */
  valueSub?: AttributeInfo;
}

export type FilterNode =
  | { kind: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { kind: 'not'; filter: FilterNode }
  | { kind: 'compare'; attr: AttributeInfo; op: CompareOp; value: Literal }
  | { kind: 'present'; attr: AttributeInfo }
  /** `emails[type eq "work" and value co "@x"]`: one value of the multi-valued attribute satisfies the whole inner filter. */
  | { kind: 'valuePath'; attr: AttributeInfo; filter: FilterNode };

/** A filter the client got wrong: answered 400 invalidFilter. */
export class InvalidFilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidFilterError';
  }
}

/** An xsd:dateTime (RFC 7643 §2.3.5), or its date alone: `Date.parse` on its own also takes "1" or "May 5". */
const BARE_DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/i;

/** Attribute types whose bare (unquoted) filter value is read as the text it spells. */
const BARE_TEXT_TYPES = new Set(['string', 'reference']);

const COMPARE_OPS = new Set(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']);
const ORDERING_OPS = new Set(['gt', 'ge', 'lt', 'le']);

type Token = { type: 'punct'; value: '(' | ')' | '[' | ']' } | { type: 'string'; value: string } | { type: 'word'; value: string };

/**
 * Bounds on a filter, checked before any work that grows with it. Real IdP filters are a
 * comparison or two (`userName eq "…"`); a filter of thousands of terms only costs CPU
 * (8,000 terms stalled the event loop for seconds and overflowed the stack).
 */
export const FILTER_LIMITS = {
  /** Characters in the expression. */
  length: 4096,
  /** Attribute expressions (`userName eq "x"`, `emails pr`). */
  terms: 50,
  /** Nested `( )`, `not ( )` and `[ ]` groups. */
  depth: 8,
} as const;

// Sticky patterns read at a position without copying the rest of the input (slicing it for
// each token made tokenising quadratic in the filter's length).
const WHITESPACE = /\s+/y;
const STRING = /"(?:[^"\\]|\\.)*"/y;
const WORD = /[^\s()[\]"]+/y;

function matchAt(pattern: RegExp, input: string, at: number): string | null {
  pattern.lastIndex = at;
  return pattern.exec(input)?.[0] ?? null;
}

function tokenise(input: string): Token[] {
  if (input.length > FILTER_LIMITS.length)
    throw new InvalidFilterError(`longer than ${FILTER_LIMITS.length} characters; filter by id, userName or externalId`);
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const ch = input[i]!;
    const space = matchAt(WHITESPACE, input, i);
    if (space) {
      i += space.length;
    } else if (ch === '(' || ch === ')' || ch === '[' || ch === ']') {
      tokens.push({ type: 'punct', value: ch });
      i += 1;
    } else if (ch === '"') {
      const literal = matchAt(STRING, input, i);
      if (!literal) throw new InvalidFilterError('unterminated string in filter');
      try {
        tokens.push({ type: 'string', value: JSON.parse(literal) as string });
      } catch {
        throw new InvalidFilterError('invalid string escape in filter');
      }
      i += literal.length;
    } else {
      const word = matchAt(WORD, input, i)!;
      tokens.push({ type: 'word', value: word });
      i += word.length;
    }
  }
  return tokens;
}

/** Resolves attribute paths against a SCIMMY schema definition (the User schema with its extensions). */
export type AttributeResolver = (path: string, parent?: AttributeInfo) => AttributeInfo;

export function schemaResolver(definition: SCIMMY.Types.SchemaDefinition): AttributeResolver {
  const extensions = (definition.attributes as unknown[]).filter(
    (a): a is SCIMMY.Types.SchemaDefinition => a instanceof SCIMMY.Types.SchemaDefinition,
  );
  return (path, parent) => {
    const full = parent ? `${parent.segments.join('.')}.${path}` : path;
    let urn: string | null = null;
    let rest = full;
    const lower = full.toLowerCase();
    if (lower.startsWith(`${definition.id.toLowerCase()}:`)) {
      rest = full.slice(definition.id.length + 1);
    } else {
      const extension = extensions.find((e) => lower.startsWith(e.id.toLowerCase()));
      if (extension) {
        urn = extension.id;
        rest = full.slice(extension.id.length).replace(/^[:.]/, '');
      }
    }
    const names = rest.split('.');
    if (names.length === 0 || names.length > 2 || names.some((n) => !n)) throw new InvalidFilterError(`invalid attribute path "${full}"`);
    // A URN alone names the extension's schema definition, not an attribute: checked below.
    let attribute: SCIMMY.Types.Attribute | SCIMMY.Types.SchemaDefinition;
    try {
      attribute = definition.attribute<SCIMMY.Types.Attribute | SCIMMY.Types.SchemaDefinition>(
        urn ? `${urn}:${names.join('.')}` : names.join('.'),
      );
    } catch {
      throw new InvalidFilterError(`unknown attribute "${full}"`);
    }
    if (!(attribute instanceof SCIMMY.Types.Attribute)) throw new InvalidFilterError(`"${full}" is not an attribute`);
    const topName = names[0]!;
    const top = names.length === 2 ? definition.attribute(urn ? `${urn}:${topName}` : topName) : attribute;
    const segments = [...(urn ? [urn] : []), top.name, ...(names.length === 2 ? [attribute.name] : [])];
    const info: AttributeInfo = {
      segments,
      type: attribute.type,
      caseExact: Boolean(attribute.config.caseExact),
      multiValued: Boolean(top.config.multiValued),
    };
    // `emails eq "x"` means the value sub-attribute of a multi-valued complex attribute (RFC 7644 §3.4.2.2).
    const value =
      attribute.type === 'complex' && attribute.config.multiValued ? attribute.subAttributes?.find((s) => s.name === 'value') : undefined;
    if (value) info.valueSub = { ...info, segments: [...segments, 'value'], type: value.type, caseExact: Boolean(value.config.caseExact) };
    return info;
  };
}

/** A key no resource has: the path of an attribute that belongs to another resource type. */
const ELSEWHERE = '\u0000elsewhere';

function elsewhere(info: AttributeInfo): AttributeInfo {
  return { ...info, segments: [ELSEWHERE, ...info.segments], ...(info.valueSub ? { valueSub: elsewhere(info.valueSub) } : {}) };
}

/**
 * For a query at the SCIM root (RFC 7644 §3.4.3), which spans resource types: paths resolve
 * against the `own` schema, and a path only the `other` schema knows resolves as an
 * attribute this resource type never has (unassigned: no comparison is true, `pr` false,
 * RFC 7644 §3.4.2.2), so `userName eq "x" or displayName eq "y"` can find users and groups
 * alike. A path neither schema knows is still an invalid filter.
 */
export function rootResolver(own: AttributeResolver, other: AttributeResolver): AttributeResolver {
  return (path, parent) => {
    const inOther = parent?.segments[0] === ELSEWHERE;
    if (!inOther) {
      try {
        return own(path, parent);
      } catch (error) {
        if (!(error instanceof InvalidFilterError)) throw error;
      }
    }
    return elsewhere(other(path, inOther ? { ...parent, segments: parent.segments.slice(1) } : parent));
  };
}

class Parser {
  private pos = 0;
  private depth = 0;
  private terms = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly resolve: AttributeResolver,
  ) {}

  parse(): FilterNode {
    if (this.tokens.length === 0) throw new InvalidFilterError('empty filter');
    const node = this.or(undefined);
    if (this.pos < this.tokens.length) throw new InvalidFilterError(`unexpected "${this.describe(this.tokens[this.pos]!)}" in filter`);
    return node;
  }

  private or(parent: AttributeInfo | undefined): FilterNode {
    let left = this.and(parent);
    while (this.keyword('or')) left = { kind: 'or', left, right: this.and(parent) };
    return left;
  }

  private and(parent: AttributeInfo | undefined): FilterNode {
    let left = this.unary(parent);
    while (this.keyword('and')) left = { kind: 'and', left, right: this.unary(parent) };
    return left;
  }

  private unary(parent: AttributeInfo | undefined): FilterNode {
    if (this.keyword('not')) {
      this.expectPunct('(');
      const filter = this.group(() => this.or(parent));
      this.expectPunct(')');
      return { kind: 'not', filter };
    }
    if (this.punct('(')) {
      const inner = this.group(() => this.or(parent));
      this.expectPunct(')');
      return inner;
    }
    return this.attributeExpression(parent);
  }

  /** Parses one nested group, refusing nesting deeper than FILTER_LIMITS.depth before recursing into it. */
  private group(parse: () => FilterNode): FilterNode {
    if (this.depth >= FILTER_LIMITS.depth) throw new InvalidFilterError(`nested deeper than ${FILTER_LIMITS.depth} levels`);
    this.depth += 1;
    const node = parse();
    this.depth -= 1;
    return node;
  }

  private attributeExpression(parent: AttributeInfo | undefined): FilterNode {
    const token = this.next('an attribute');
    if (token.type !== 'word') throw new InvalidFilterError(`expected an attribute, got "${this.describe(token)}"`);
    this.terms += 1;
    if (this.terms > FILTER_LIMITS.terms)
      throw new InvalidFilterError(`more than ${FILTER_LIMITS.terms} attribute expressions; filter by id, userName or externalId`);
    if (this.punct('[')) {
      if (parent) throw new InvalidFilterError('nested value filters are not allowed');
      const container = this.resolve(token.value);
      if (container.type !== 'complex') throw new InvalidFilterError(`"${token.value}" is not a complex attribute`);
      // Inside the brackets, paths are sub-attributes of this one.
      const filter = this.group(() => this.or(container));
      this.expectPunct(']');
      return { kind: 'valuePath', attr: container, filter };
    }
    const resolved = this.resolve(token.value, parent);
    const opToken = this.next('an operator');
    const op = opToken.type === 'word' ? opToken.value.toLowerCase() : '';
    if (op === 'pr') return { kind: 'present', attr: resolved };
    const attr = resolved.valueSub ?? resolved;
    if (!COMPARE_OPS.has(op)) throw new InvalidFilterError(`unknown operator "${this.describe(opToken)}"`);
    const value = this.literal(attr);
    if (attr.type === 'complex') throw new InvalidFilterError(`"${token.value}" is complex: compare one of its sub-attributes`);
    if ((attr.type === 'boolean' || attr.type === 'binary') && ORDERING_OPS.has(op)) {
      throw new InvalidFilterError(`"${op}" is not defined for ${attr.type} attributes`);
    }
    return { kind: 'compare', attr, op: op as CompareOp, value };
  }

  /**
   * The comparison value. RFC 7644 §3.4.2.2 wants strings and date-times quoted; Microsoft's
   * validator and some IdPs send them bare (`userName sw O`, `meta.created gt 2015-10-10T…`).
   * The value is always exactly one token after the operator, so a bare word is read by the
   * attribute's type: text for a string or reference attribute (a number or `true` spells
   * its text: a string attribute holds no numbers), an instant for a date-time, true/false
   * for a boolean, a number for a numeric one. `null` keeps its RFC meaning everywhere.
   */
  private literal(attr: AttributeInfo): Literal {
    const token = this.next('a value');
    if (token.type === 'string') return token.value;
    if (token.type === 'word') {
      const lower = token.value.toLowerCase();
      if (lower === 'null') return null;
      if (BARE_TEXT_TYPES.has(attr.type)) return token.value;
      if (attr.type === 'dateTime' && BARE_DATE_TIME.test(token.value) && !Number.isNaN(Date.parse(token.value))) return token.value;
      if (lower === 'true') return true;
      if (lower === 'false') return false;
      if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(token.value)) return Number(token.value);
    }
    throw new InvalidFilterError(`expected a value, got "${this.describe(token)}"`);
  }

  private keyword(word: string): boolean {
    const token = this.tokens[this.pos];
    if (token?.type === 'word' && token.value.toLowerCase() === word) {
      this.pos += 1;
      return true;
    }
    return false;
  }

  private punct(value: string): boolean {
    const token = this.tokens[this.pos];
    if (token?.type === 'punct' && token.value === value) {
      this.pos += 1;
      return true;
    }
    return false;
  }

  private expectPunct(value: string): void {
    if (!this.punct(value)) throw new InvalidFilterError(`expected "${value}" in filter`);
  }

  private next(what: string): Token {
    const token = this.tokens[this.pos];
    if (!token) throw new InvalidFilterError(`filter ended where ${what} was expected`);
    this.pos += 1;
    return token;
  }

  private describe(token: Token): string {
    return token.type === 'string' ? JSON.stringify(token.value) : token.value;
  }
}

export function parseFilter(expression: string, resolve: AttributeResolver): FilterNode {
  return new Parser(tokenise(expression), resolve).parse();
}

/** Values at a path, case-insensitive on keys (RFC 7643 §2.1), multi-valued attributes flattened. */
function valuesAt(value: unknown, segments: string[]): unknown[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.flatMap((v) => valuesAt(v, segments));
  if (segments.length === 0) return [value];
  if (typeof value !== 'object') return [];
  const [head, ...rest] = segments;
  const key = Object.keys(value).find((k) => k.toLowerCase() === head!.toLowerCase());
  return key === undefined ? [] : valuesAt((value as Record<string, unknown>)[key], rest);
}

function isPresent(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'string') return value.length > 0;
  if (typeof value === 'object') return Object.values(value).some(isPresent);
  return true;
}

/** A Map, not an object literal: `active eq "constructor"` must not find Object.prototype's members. */
const STRING_BOOLEANS = new Map([
  ['true', true],
  ['false', false],
]);

function compareOne(actual: unknown, op: CompareOp, expected: Literal, attr: AttributeInfo): boolean {
  if (attr.type === 'boolean') {
    // Entra writes `active eq "True"`: the same string booleans its PATCH bodies carry.
    const want = typeof expected === 'string' ? STRING_BOOLEANS.get(expected.toLowerCase()) : expected;
    return op === 'eq' ? actual === want : actual !== want;
  }
  if (attr.type === 'dateTime' && op !== 'co' && op !== 'sw' && op !== 'ew') {
    const a = Date.parse(String(actual));
    const b = typeof expected === 'string' ? Date.parse(expected) : NaN;
    if (Number.isNaN(a) || Number.isNaN(b)) return false;
    return ordered(a, b, op);
  }
  if (attr.type === 'integer' || attr.type === 'decimal') {
    if (typeof actual !== 'number' || typeof expected !== 'number') return op === 'ne';
    if (op === 'co' || op === 'sw' || op === 'ew') return stringOp(String(actual), String(expected), op);
    return ordered(actual, expected, op);
  }
  if (typeof actual !== 'string' || typeof expected !== 'string') return op === 'ne';
  const a = attr.caseExact ? actual : actual.toLowerCase();
  const b = attr.caseExact ? expected : expected.toLowerCase();
  if (op === 'co' || op === 'sw' || op === 'ew') return stringOp(a, b, op);
  return ordered(a, b, op);
}

function stringOp(a: string, b: string, op: 'co' | 'sw' | 'ew'): boolean {
  return op === 'co' ? a.includes(b) : op === 'sw' ? a.startsWith(b) : a.endsWith(b);
}

function ordered<T extends number | string>(a: T, b: T, op: CompareOp): boolean {
  switch (op) {
    case 'eq':
      return a === b;
    case 'ne':
      return a !== b;
    case 'gt':
      return a > b;
    case 'ge':
      return a >= b;
    case 'lt':
      return a < b;
    case 'le':
      return a <= b;
    default:
      return false;
  }
}

/** Whether one resource (its JSON form, as returned to clients) satisfies the filter. */
export function matchesFilter(node: FilterNode, resource: unknown): boolean {
  switch (node.kind) {
    case 'and':
      return matchesFilter(node.left, resource) && matchesFilter(node.right, resource);
    case 'or':
      return matchesFilter(node.left, resource) || matchesFilter(node.right, resource);
    case 'not':
      return !matchesFilter(node.filter, resource);
    case 'present':
      return valuesAt(resource, node.attr.segments).some(isPresent);
    case 'valuePath': {
      // Each value of the attribute on its own, so that both conditions hold for the same email.
      const inner = relativise(node.filter, node.attr.segments.length);
      return valuesAt(resource, node.attr.segments).some((value) => matchesFilter(inner, value));
    }
    case 'compare': {
      const values = valuesAt(resource, node.attr.segments);
      // A multi-valued attribute matches when any value does; `ne` holds when no value equals.
      if (node.op === 'ne') return !values.some((v) => compareOne(v, 'eq', node.value, node.attr));
      return values.some((v) => compareOne(v, node.op, node.value, node.attr));
    }
  }
}

/** Strips the container's path from the inner filter of a value path, so it evaluates against one value. */
function relativise(node: FilterNode, depth: number): FilterNode {
  switch (node.kind) {
    case 'and':
    case 'or':
      return { ...node, left: relativise(node.left, depth), right: relativise(node.right, depth) };
    case 'not':
      return { ...node, filter: relativise(node.filter, depth) };
    case 'valuePath':
      return node;
    default:
      return { ...node, attr: { ...node.attr, segments: node.attr.segments.slice(depth) } };
  }
}

/** An `eq` the store answers through an index: which lookup, and the value looked up. */
export interface IndexedLookup<By extends string = UserLookup> {
  by: By;
  value: string;
}

type UserLookup = 'id' | 'userName' | 'externalId';

/** The User attributes (lower-cased paths) the directory has an index for. */
const USER_INDEXED = new Map<string, UserLookup>([
  ['id', 'id'],
  ['username', 'userName'],
  ['externalid', 'externalId'],
]);

/**
 * The indexed lookups whose results contain every resource the filter can match, or null
 * when the filter needs a scan. `userName eq` and friends at the top, under `and` (either
 * side narrows), or on both sides of `or`. The full filter is still evaluated on the result.
 * `indexed` maps lower-cased attribute paths (`members.value`) to lookups; Users by default.
 */
export function indexedLookups<By extends string = UserLookup>(
  node: FilterNode,
  indexed: ReadonlyMap<string, By> = USER_INDEXED as unknown as ReadonlyMap<string, By>,
): Array<IndexedLookup<By>> | null {
  switch (node.kind) {
    case 'compare': {
      if (node.op !== 'eq' || typeof node.value !== 'string') return null;
      const by = indexed.get(node.attr.segments.join('.').toLowerCase());
      return by ? [{ by, value: node.value }] : null;
    }
    case 'and':
      return indexedLookups(node.left, indexed) ?? indexedLookups(node.right, indexed);
    case 'or': {
      const left = indexedLookups(node.left, indexed);
      const right = left && indexedLookups(node.right, indexed);
      return left && right ? [...left, ...right] : null;
    }
    default:
      return null;
  }
}

/** Whether any expression of the filter reads the top-level attribute `name` (compared case-insensitively). */
export function filterReads(node: FilterNode, name: string): boolean {
  switch (node.kind) {
    case 'and':
    case 'or':
      return filterReads(node.left, name) || filterReads(node.right, name);
    case 'not':
      return filterReads(node.filter, name);
    default:
      return node.attr.segments[0]!.toLowerCase() === name.toLowerCase();
  }
}
