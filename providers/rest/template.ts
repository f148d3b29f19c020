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
import { parseTemplateWith, ParsedTemplate, render, variablesOf, type TemplateView } from '../template.ts';

export { ParsedTemplate, render, variablesOf, type TemplateContext, type TemplateView } from '../template.ts';

/** The variables every template may name; `job.<name>` only where a poll captured it. */
const VARIABLE =
  /^(?:subject\.(?:externalId|userName|email|displayName|emails\.\d|organization\.[A-Za-z][A-Za-z0-9_]{0,63})|account\.id|terminationId|taskId|job\.[A-Za-z][A-Za-z0-9_]{0,63})$/;

export const VARIABLE_NAMES =
  'subject.externalId, subject.userName, subject.email, subject.emails.N, subject.displayName, subject.organization.<field>, account.id, terminationId, taskId, job.<captured name>';

/** Parses a template, or throws a message naming what is wrong (for the config's error). */
export function parseTemplate(template: string): ParsedTemplate {
  return parseTemplateWith(template, { pattern: VARIABLE, names: VARIABLE_NAMES });
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
