import { z } from 'zod';
import { parseTemplateWith, variablesOf, type ParsedTemplate, type TemplateVariables } from '../template.ts';
import { DEFAULT_TEMPLATES, EXPORT_LINK_VARIABLES, MESSAGE_VARIABLES } from './templates.ts';

/** An address we write into an envelope: no display name, no line break, no list separator. */
export const ADDRESS =
  /^[^\s@<>()",;:\\[\]]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$/;
const address = z.string().max(254).regex(ADDRESS, { error: 'expected a plain email address (user@example.com)' });

/** Hosts where SMTP may run without TLS: the sandbox and a relay on the same machine. */
export const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|::1|\[::1\])$/;

/** A template's text: kept as written (config crosses to the attempt thread as plain data), checked by parsing it. */
const templateText = (variables: TemplateVariables) =>
  z
    .string()
    .min(1)
    .max(20_000)
    .superRefine((text, ctx) => {
      try {
        parseTemplateWith(text, variables);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    });

const messageTemplate = z
  .object({
    /** The Subject line. A rendered value holding a line break is refused (no header injection). */
    subject: templateText(MESSAGE_VARIABLES),
    /** The plain-text body: values go in as they are. */
    text: templateText(MESSAGE_VARIABLES),
    /** An optional HTML body: values are HTML-escaped (`&`, `<`, `>`, quotes). */
    html: templateText(MESSAGE_VARIABLES).optional(),
  })
  .strict();
export type MessageTemplateText = z.output<typeof messageTemplate>;

/** An email channel: messages to a client's contacts and to the account owner, over SMTP. */
export const emailConfigSchema = z
  .object({
    smtp: z
      .object({
        /** The relay (submission server). TLS is required unless it is a loopback host. */
        host: z.string().min(1).max(253),
        /** Default 587 (submission with STARTTLS); 465 with `secure: true`. */
        port: z.number().int().min(1).max(65_535).default(587),
        /** true: TLS from the first byte (SMTPS, port 465); false: STARTTLS, required off loopback. Default false. */
        secure: z.boolean().default(false),
        /** Submission credentials; put them in the environment (`pass: ${SMTP_PASSWORD}`). Never logged. */
        auth: z
          .object({ user: z.string().min(1).max(256), pass: z.string().min(1).max(1024) })
          .strict()
          .optional(),
        /** PEM of a private CA that signed the relay's certificate, beside the system's. */
        ca: z.string().min(1).optional(),
      })
      .strict(),
    /** The From address; replies go to `replyTo` when set. */
    from: address,
    /** The From display name. Default none. */
    fromName: z
      .string()
      .max(100)
      // eslint-disable-next-line no-control-regex -- a line break would split the header
      .regex(/^[^\u0000-\u001f\u007f]*$/)
      .optional(),
    replyTo: address.optional(),
    /** Recipients of `to: accountOwner` (the client's account owner, internal). Default none. */
    accountOwner: z.array(address).max(50).default([]),
    /** `{{surveyUrl}}`: the feedback survey linked from the `completed` message. */
    surveyUrl: z
      .url({ protocol: /^https?$/ })
      .max(2_000)
      .optional(),
    /**
     * `{{exportLink}}`: where a client fetches their export, a URL template rendered per subject
     * (values URL-encoded), e.g. `https://portal.example.com/exports/{{subject.organization.id}}`.
     * The daemon never holds the export's own download link (the export step records only that
     * one exists): the portal, behind the client's sign-in, serves it.
     */
    exportLink: templateText(EXPORT_LINK_VARIABLES)
      .pipe(
        z
          .string()
          .max(2_000)
          .regex(/^https:\/\/[^/\s{}]+\//, { error: 'expected an https URL template whose host is literal' }),
      )
      .optional(),
    /** The domain of every Message-ID (`<deprovisiond.TASK@domain>`). Default: the From address's domain. */
    messageIdDomain: z
      .string()
      .regex(/^[A-Za-z0-9.-]{1,253}$/)
      .optional(),
    /** Templates by name, over the defaults (`started`, `export_ready`, `completed`, `account_owner`). */
    templates: z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/), messageTemplate).default({}),
    /** Recipients one message may have. Default 50. */
    maxRecipients: z.number().int().min(1).max(500).default(50),
    /** How long a relay's 421/451 pauses this channel: SMTP names no delay. Default 60 000 ms. */
    rateLimitDelayMs: z.number().int().min(1_000).max(3_600_000).default(60_000),
    /** Connection, greeting and socket timeout. Default 30 000 ms. */
    timeoutMs: z.number().int().positive().max(600_000).default(30_000),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (!config.smtp.secure && !LOOPBACK.test(config.smtp.host) && config.smtp.port === 465)
      ctx.addIssue({ code: 'custom', path: ['smtp', 'secure'], message: 'port 465 is SMTPS: set secure: true' });
    // Only the templates named here: a default one that links a survey is fine until a step sends it (checked then).
    for (const [name, template] of Object.entries(config.templates)) {
      const names = [template.subject, template.text, ...(template.html ? [template.html] : [])].flatMap((text) => {
        try {
          return variablesOf(parseTemplateWith(text, MESSAGE_VARIABLES));
        } catch {
          return []; // already reported on the field itself
        }
      });
      if (names.includes('surveyUrl') && !config.surveyUrl)
        ctx.addIssue({ code: 'custom', path: ['templates', name], message: 'names {{surveyUrl}}: set surveyUrl' });
      if (names.includes('exportLink') && !config.exportLink)
        ctx.addIssue({ code: 'custom', path: ['templates', name], message: 'names {{exportLink}}: set exportLink' });
    }
  });
export type EmailConfig = z.output<typeof emailConfigSchema>;

/** A message template, parsed. */
export interface MessageTemplate {
  subject: ParsedTemplate;
  text: ParsedTemplate;
  html?: ParsedTemplate | undefined;
}

/** Parses the defaults under the config's own templates, once per adapter. */
export function compileTemplates(config: EmailConfig): Map<string, MessageTemplate> {
  const all = { ...DEFAULT_TEMPLATES, ...config.templates };
  const compiled = new Map<string, MessageTemplate>();
  for (const [name, t] of Object.entries(all)) {
    compiled.set(name, {
      subject: parseTemplateWith(t.subject, MESSAGE_VARIABLES),
      text: parseTemplateWith(t.text, MESSAGE_VARIABLES),
      html: t.html === undefined ? undefined : parseTemplateWith(t.html, MESSAGE_VARIABLES),
    });
  }
  return compiled;
}

/** The export link's URL template, parsed; null when the config has none. */
export function compileExportLink(config: EmailConfig): ParsedTemplate | null {
  return config.exportLink === undefined ? null : parseTemplateWith(config.exportLink, EXPORT_LINK_VARIABLES);
}
