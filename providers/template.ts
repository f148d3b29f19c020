/**
 * Configured text templates, shared by the providers that send what an operator wrote (the
 * `rest` provider's requests, the `email` provider's messages): mustache syntax, parsed by
 * mustache when the config is read, restricted to plain variables from a list the provider
 * names. Sections, partials, unescaped variables (`{{{x}}}`, `{{&x}}`) and delimiter changes
 * are refused, so a config cannot loop, include or skip escaping. Rendering looks each
 * variable up through own properties only and escapes its value for where it lands. A
 * variable with no value is an error, never an empty string (an empty id in a URL matches the
 * wrong record; an empty link in a message is a broken promise).
 */
import Mustache from 'mustache';
import { PermanentError } from './contract.ts';

/**
 * Where a rendered value lands, which decides its escaping: URL-encoded in a URL (a value
 * cannot add a path segment or a query parameter), checked in a header (no line break), as is
 * in a JSON string (JSON.stringify escapes it later) and in plain text, HTML-escaped in HTML.
 */
export type TemplateContext = 'url' | 'header' | 'body' | 'text' | 'html';

/** A template parsed at config time: literal text and variable names, in order. */
export class ParsedTemplate {
  constructor(readonly parts: ReadonlyArray<{ text: string } | { variable: string }>) {}
}

/** The variables a provider's templates may name: a pattern, and the list said in errors. */
export interface TemplateVariables {
  pattern: RegExp;
  names: string;
}

/** Parses a template, or throws a message naming what is wrong (for the config's error). */
export function parseTemplateWith(template: string, variables: TemplateVariables): ParsedTemplate {
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
      if (!variables.pattern.test(value)) throw new Error(`unknown template variable "${value}" (expected ${variables.names})`);
      parts.push({ variable: value });
    } else if (type !== '!') {
      throw new Error(
        `template tag "${type}" is not allowed: only plain variables such as {{terminationId}} (no sections, partials or unescaped values)`,
      );
    }
  }
  return new ParsedTemplate(parts);
}

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
  // Mustache's own escaping (& < > " ' / ` =): a value cannot open a tag or leave an attribute.
  if (context === 'html') return Mustache.escape(value);
  // A line break or another control character in a header would split the request (or the message's headers).
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (context === 'header' && /[\u0000-\u001f\u007f]/.test(value))
    throw new PermanentError(`${what}: a header value would hold a control character`);
  return value;
}
