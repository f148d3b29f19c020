/**
 * What the email channel says: the default templates, the variables a template may name, the
 * view they are rendered from, and the rendering (subject as a header, text as is, HTML
 * escaped). Built from the termination and config only: no reason text from the HRIS, no
 * error messages, no secrets.
 */
import type { Subject } from '../../src/domain/types.ts';
import { render, type ParsedTemplate, type TemplateVariables, type TemplateView } from '../template.ts';

const SUBJECT_FIELDS = 'subject\\.(?:externalId|userName|email|displayName|organization\\.[A-Za-z][A-Za-z0-9_]{0,63})';

/** Variables of a message template. */
export const MESSAGE_VARIABLES: TemplateVariables = {
  pattern: new RegExp(`^(?:${SUBJECT_FIELDS}|name|terminationId|effectiveAt|effectiveDate|exportLink|surveyUrl)$`),
  names:
    'name, subject.externalId, subject.userName, subject.email, subject.displayName, subject.organization.<field>, terminationId, effectiveAt, effectiveDate, exportLink, surveyUrl',
};

/** Variables of the `exportLink` URL template: identifiers only (values are URL-encoded). */
export const EXPORT_LINK_VARIABLES: TemplateVariables = {
  pattern: new RegExp(`^(?:${SUBJECT_FIELDS}|terminationId)$`),
  names: 'subject.externalId, subject.userName, subject.email, subject.displayName, subject.organization.<field>, terminationId',
};

/** The defaults: three messages to the client's contacts and one to the account owner. */
export const DEFAULT_TEMPLATES: Record<string, { subject: string; text: string; html?: string }> = {
  started: {
    subject: 'Your service ends on {{effectiveDate}}',
    text:
      'Hello,\n\nWe have started closing the account of {{name}} (reference {{terminationId}}).\n' +
      'Your service continues until {{effectiveAt}}. After that, access ends; we will write to you again ' +
      'when your data export is ready and once the account is closed.\n\nReply to this message if you have a question.\n',
  },
  export_ready: {
    subject: 'Your data export is ready',
    text:
      'Hello,\n\nThe data export of {{name}} (reference {{terminationId}}) is ready.\n' +
      'Sign in and download it here: {{exportLink}}\n\nThe export is kept for a limited time only: please download it soon.\n',
    html:
      '<p>Hello,</p><p>The data export of {{name}} (reference {{terminationId}}) is ready.</p>' +
      '<p><a href="{{exportLink}}">Sign in and download it</a>.</p><p>The export is kept for a limited time only: please download it soon.</p>',
  },
  completed: {
    subject: 'Your account has been closed',
    text:
      'Hello,\n\nThe account of {{name}} (reference {{terminationId}}) is now closed.\n' +
      'Thank you for working with us. Tell us in two minutes how it went: {{surveyUrl}}\n',
    html:
      '<p>Hello,</p><p>The account of {{name}} (reference {{terminationId}}) is now closed.</p>' +
      '<p>Thank you for working with us. <a href="{{surveyUrl}}">Tell us in two minutes how it went</a>.</p>',
  },
  account_owner: {
    subject: 'Offboarding of {{name}} has started',
    text:
      'The offboarding of {{name}} has started (termination {{terminationId}}).\n' +
      'Their service continues until {{effectiveAt}}; the client contacts have been told.\n',
  },
};

export interface MessageInput {
  subject: Subject;
  terminationId: string;
  effectiveAt: Date;
  /** The rendered export link, when the config has one. */
  exportLink?: string | undefined;
  surveyUrl?: string | undefined;
}

/** The organization's own string fields, read defensively (another channel may not send one). */
export function organizationOf(subject: Subject): Record<string, string> {
  const organization = (subject as { organization?: unknown }).organization;
  const out: Record<string, string> = {};
  if (typeof organization === 'object' && organization !== null && !Array.isArray(organization)) {
    for (const [key, value] of Object.entries(organization)) if (typeof value === 'string') out[key] = value;
  }
  return out;
}

/** The subject's fields every template of this channel may name, own data only. */
export function subjectView(subject: Subject): TemplateView {
  const emails = Array.isArray(subject.emails) ? subject.emails.filter((e) => typeof e === 'string') : [];
  return {
    externalId: subject.externalId,
    userName: subject.userName,
    email: emails[0],
    displayName: subject.displayName,
    organization: organizationOf(subject),
  };
}

export function messageView(input: MessageInput): TemplateView {
  const subject = subjectView(input.subject);
  const org = subject.organization as Record<string, string>;
  const name =
    org.name ?? input.subject.displayName ?? input.subject.userName ?? (subject.email as string | undefined) ?? input.subject.externalId;
  const iso = input.effectiveAt.toISOString();
  return {
    subject,
    name,
    terminationId: input.terminationId,
    // Minutes are the precision a reader needs; UTC said, so no reader guesses the zone.
    effectiveAt: `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`,
    effectiveDate: iso.slice(0, 10),
    exportLink: input.exportLink,
    surveyUrl: input.surveyUrl,
  };
}

export interface RenderedMessage {
  subject: string;
  text: string;
  html?: string;
}

/** Renders one template; a variable with no value is a PermanentError naming it. */
export function renderMessage(
  template: { subject: ParsedTemplate; text: ParsedTemplate; html?: ParsedTemplate | undefined },
  view: TemplateView,
  what: string,
): RenderedMessage {
  return {
    subject: render(template.subject, view, 'header', `${what} subject`),
    text: render(template.text, view, 'text', `${what} text`),
    ...(template.html ? { html: render(template.html, view, 'html', `${what} html`) } : {}),
  };
}
