/**
 * The templates of a `rest` provider's requests: mustache syntax, parsed by mustache when the
 * config is read, restricted to plain variables (`{{subject.externalId}}`). Sections, partials,
 * unescaped variables (`{{{x}}}`, `{{&x}}`) and delimiter changes are refused, so a config
 * cannot loop, include or skip escaping. Rendering looks each variable up through own
 * properties only and escapes its value for where it lands: URL-encoded in a URL (a value
 * cannot add a path segment or a query parameter), checked in a header (no line break),
 * as is in a JSON string (JSON.stringify escapes it). A variable the subject lacks is an
 * error, never an empty string: `/tenants?externalId=` would match the wrong tenant.
 */
import Mustache from 'mustache';
import { PermanentError } from '../contract.ts';

/** Where a rendered value lands, which decides its escaping. */
export type TemplateContext = 'url' | 'header' | 'body';

/** A template parsed at config time: literal text and variable names, in order. */
export class ParsedTemplate {
  constructor(readonly parts: ReadonlyArray<{ text: string } | { variable: string }>) {}
}

/** The variables every template may name; `job.<name>` only where a poll captured it. */
const VARIABLE =
  /^(?:subject\.(?:externalId|userName|email|displayName|emails\.\d|organization\.[A-Za-z][A-Za-z0-9_]{0,63})|account\.id|terminationId|taskId|job\.[A-Za-z][A-Za-z0-9_]{0,63})$/;

/** Parses a template, or throws a message naming what is wrong (for the config's error). */
export function parseTemplate(template: string): ParsedTemplate {
  let tokens: unknown[];
  try {
    tokens = Mustache.parse(template);
  } catch (error) {
    throw new Error(`not a valid template: ${(error as Error).message}`, { cause: error });
  }
  const parts: Array<{ text: string } | { variable: string }> = [];
  for (const token of tokens) {
    const [type, value] = token as [string, string];
    if (type === 'text') parts.push({ text: value });
    else if (type === 'name') {
      if (!VARIABLE.test(value)) throw new Error(`unknown template variable "${value}" (expected ${VARIABLE_NAMES})`);
      parts.push({ variable: value });
    } else if (type !== '!') {
      throw new Error(
        `template tag "${type}" is not allowed: only plain variables such as {{account.id}} (no sections, partials or unescaped values)`,
      );
    }
  }
  return new ParsedTemplate(parts);
}

export const VARIABLE_NAMES =
  'subject.externalId, subject.userName, subject.email, subject.emails.N, subject.displayName, subject.organization.<field>, account.id, terminationId, taskId, job.<captured name>';

/** The variables a parsed template names. */
export function variablesOf(template: ParsedTemplate): string[] {
  return template.parts.flatMap((part) => ('variable' in part ? [part.variable] : []));
}

/** A value of the view: nested plain data, read by own properties only. */
export type TemplateView = Record<string, unknown>;

function lookup(view: TemplateView, name: string): string | null {
  let current: unknown = view;
  for (const key of name.split('.')) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, key)) return null;
    current = (current as Record<string, unknown>)[key];
  }
  if (typeof current === 'string') return current === '' ? null : current;
  if (typeof current === 'number' && Number.isFinite(current)) return String(current);
  return null;
}

/** Renders a parsed template; `what` names it in the error when a variable has no value. */
export function render(template: ParsedTemplate, view: TemplateView, context: TemplateContext, what: string): string {
  let out = '';
  for (const part of template.parts) {
    if ('text' in part) {
      out += part.text;
      continue;
    }
    const value = lookup(view, part.variable);
    if (value === null) throw new PermanentError(`${what}: the template needs ${part.variable}, which has no value for this subject`);
    out += escapeFor(value, context, what);
  }
  return out;
}

function escapeFor(value: string, context: TemplateContext, what: string): string {
  if (context === 'url') return encodeURIComponent(value);
  // A line break or another control character in a header would split the request.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (context === 'header' && /[\u0000-\u001f\u007f]/.test(value))
    throw new PermanentError(`${what}: a header value would hold a control character`);
  return value;
}

/** A JSON body template: every string leaf is a template of its own, rendered with JSON's escaping. */
export type BodyTemplate = ParsedTemplate | number | boolean | null | BodyTemplate[] | { [key: string]: BodyTemplate };

export function parseBody(body: unknown, path: Array<string | number> = []): BodyTemplate {
  if (typeof body === 'string') return parseTemplate(body);
  if (typeof body === 'number' || typeof body === 'boolean' || body === null) return body;
  if (Array.isArray(body)) return body.map((item, i) => parseBody(item, [...path, i]));
  if (typeof body === 'object') {
    const out: Record<string, BodyTemplate> = {};
    for (const [key, value] of Object.entries(body)) out[key] = parseBody(value, [...path, key]);
    return out;
  }
  throw new Error(`unsupported JSON value at ${path.join('.') || 'the root'}`);
}

export function renderBody(body: BodyTemplate, view: TemplateView, what: string): unknown {
  if (typeof body === 'number' || typeof body === 'boolean' || body === null) return body;
  if (body instanceof ParsedTemplate) return render(body, view, 'body', what);
  if (Array.isArray(body)) return body.map((item) => renderBody(item, view, what));
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) out[key] = renderBody(value, view, what);
  return out;
}

/** Every variable a body template names. */
export function bodyVariables(body: BodyTemplate): string[] {
  if (typeof body === 'number' || typeof body === 'boolean' || body === null) return [];
  if (body instanceof ParsedTemplate) return variablesOf(body);
  if (Array.isArray(body)) return body.flatMap((item) => bodyVariables(item));
  return Object.values(body).flatMap(bodyVariables);
}
