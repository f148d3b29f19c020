/**
 * The email channel's config, templates, recipients and SMTP error mapping, without a server:
 * what a config may say, how values are escaped where they land, which contact entries are
 * used, and which typed error each SMTP answer becomes.
 */
import { describe, expect, it } from 'vitest';
import { transportOptions } from '../providers/email/adapter.ts';
import { compileExportLink, compileTemplates, emailConfigSchema } from '../providers/email/config.ts';
import { smtpError } from '../providers/email/errors.ts';
import { contactsOf, emailStep } from '../providers/email/recipients.ts';
import { messageView, renderMessage } from '../providers/email/templates.ts';
import { PermanentError, RateLimitedError, TransientError } from '../providers/contract.ts';
import { render } from '../providers/template.ts';
import type { Subject } from '../src/domain/types.ts';

const base = { smtp: { host: 'smtp.example.com' }, from: 'offboarding@example.com' };
const parse = (extra: Record<string, unknown> = {}) => emailConfigSchema.safeParse({ ...base, ...extra });
const messages = (result: ReturnType<typeof parse>) => (result.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);

describe('email config', () => {
  it('defaults to submission with STARTTLS required off loopback, certificates checked', () => {
    const config = emailConfigSchema.parse(base);
    expect(config.smtp).toEqual({ host: 'smtp.example.com', port: 587, secure: false });
    expect(transportOptions(config)).toMatchObject({
      requireTLS: true,
      secure: false,
      tls: { rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    });
  });

  it('lets plain SMTP through on loopback only (the sandbox, a local relay)', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1'])
      expect(transportOptions(emailConfigSchema.parse({ ...base, smtp: { host, port: 2525 } })).requireTLS).toBe(false);
    expect(transportOptions(emailConfigSchema.parse({ ...base, smtp: { host: '127.example.com' } })).requireTLS).toBe(true);
    expect(
      transportOptions(emailConfigSchema.parse({ ...base, smtp: { host: 'smtp.example.com', port: 465, secure: true } })),
    ).toMatchObject({
      secure: true,
      requireTLS: false,
    });
  });

  it('refuses addresses with a display name, a line break or a list', () => {
    for (const from of [
      'Offboarding <o@example.com>',
      'o@example.com\r\nBcc: x@evil.example',
      'a@example.com, b@example.com',
      'no-at-sign',
    ])
      expect(messages(parse({ from })), from).not.toEqual([]);
    expect(messages(parse({ accountOwner: ['owner@example.com', 'x@y'] }))).toEqual([expect.stringMatching(/^accountOwner\.1:/)]);
  });

  it('refuses template tags beyond plain variables, and unknown variables', () => {
    const t = (text: string) => parse({ templates: { started: { subject: 'S', text } } });
    expect(messages(t('{{#name}}x{{/name}}'))).toEqual([
      expect.stringMatching(/templates\.started\.text: template tag "#" is not allowed/),
    ]);
    expect(messages(t('{{{name}}}'))).toEqual([expect.stringMatching(/is not allowed/)]);
    expect(messages(t('{{subject.password}}'))).toEqual([expect.stringMatching(/unknown template variable "subject.password"/)]);
    expect(messages(t('Until {{effectiveAt}} for {{subject.organization.name}}'))).toEqual([]);
  });

  it('asks for surveyUrl and exportLink when a configured template links them', () => {
    const withSurvey = { templates: { bye: { subject: 'Bye', text: 'Survey: {{surveyUrl}}' } } };
    expect(messages(parse(withSurvey))).toEqual(['templates.bye: names {{surveyUrl}}: set surveyUrl']);
    expect(messages(parse({ ...withSurvey, surveyUrl: 'https://survey.example.com/s' }))).toEqual([]);
    expect(messages(parse({ templates: { ready: { subject: 'R', text: '{{exportLink}}' } } }))).toEqual([
      'templates.ready: names {{exportLink}}: set exportLink',
    ]);
  });

  it('takes an export link only as an https URL template with a literal host', () => {
    expect(messages(parse({ exportLink: 'https://portal.example.com/exports/{{terminationId}}' }))).toEqual([]);
    expect(messages(parse({ exportLink: 'http://portal.example.com/exports/{{terminationId}}' }))).not.toEqual([]);
    expect(messages(parse({ exportLink: 'https://{{subject.organization.host}}/exports' }))).not.toEqual([]);
    expect(messages(parse({ exportLink: 'https://portal.example.com/{{exportLink}}' }))).toEqual([
      expect.stringMatching(/unknown template variable "exportLink"/),
    ]);
  });

  it('survives a second parse (the config crosses to the attempt thread as plain data)', () => {
    const once = emailConfigSchema.parse({ ...base, exportLink: 'https://portal.example.com/x/{{terminationId}}' });
    expect(emailConfigSchema.parse(structuredClone(once))).toEqual(once);
  });
});

const subject: Subject = {
  externalId: 'C-1',
  emails: ['billing@client.example'],
  displayName: 'Ada <script>',
  organization: {
    name: 'Acme & Sons <Ltd>',
    id: 'org/1 ?x',
    domains: ['client.example'],
    contacts: ['a@client.example', 'B@Client.example'],
  },
};
const config = emailConfigSchema.parse({
  ...base,
  accountOwner: ['owner@example.com'],
  surveyUrl: 'https://survey.example.com/s?c=1',
  exportLink: 'https://portal.example.com/exports/{{subject.organization.id}}',
});
const view = (s: Subject = subject) =>
  messageView({
    subject: s,
    terminationId: 'T-1',
    effectiveAt: new Date('2026-03-31T17:30:00Z'),
    exportLink: render(compileExportLink(config)!, { subject: { organization: { id: 'org/1 ?x' } } }, 'url', 'link'),
    surveyUrl: config.surveyUrl,
  });

describe('email templates', () => {
  const templates = compileTemplates(config);

  it('has the four defaults, rendered with the organization name and the service end', () => {
    expect([...templates.keys()].sort()).toEqual(['account_owner', 'completed', 'export_ready', 'started']);
    const started = renderMessage(templates.get('started')!, view(), 'started');
    expect(started.subject).toBe('Your service ends on 2026-03-31');
    expect(started.text).toContain('closing the account of Acme & Sons <Ltd> (reference T-1)');
    expect(started.text).toContain('continues until 2026-03-31 17:30 UTC');
  });

  it('escapes values in HTML bodies and leaves them as they are in text', () => {
    const ready = renderMessage(templates.get('export_ready')!, view(), 'export_ready');
    expect(ready.text).toContain('Acme & Sons <Ltd>');
    expect(ready.text).toContain('https://portal.example.com/exports/org%2F1%20%3Fx');
    expect(ready.html).toContain('Acme &amp; Sons &lt;Ltd&gt;');
    expect(ready.html).not.toContain('<Ltd>');
    const completed = renderMessage(templates.get('completed')!, view(), 'completed');
    expect(completed.html).toContain('href="https:&#x2F;&#x2F;survey.example.com&#x2F;s?c&#x3D;1"');
  });

  it('refuses a line break in the subject line (no header injection)', () => {
    const evil: Subject = { ...subject, organization: { ...subject.organization!, name: 'Acme\r\nBcc: victim@example.com' } };
    const t = compileTemplates(emailConfigSchema.parse({ ...base, templates: { x: { subject: 'About {{name}}', text: 'hi' } } }));
    expect(() => renderMessage(t.get('x')!, view(evil), 'x')).toThrow(/control character/);
  });

  it('fails a message whose variable has no value rather than sending a blank', () => {
    const noLink = messageView({ subject, terminationId: 'T-1', effectiveAt: new Date(), exportLink: undefined, surveyUrl: undefined });
    expect(() => renderMessage(templates.get('export_ready')!, noLink, 'export_ready')).toThrow(PermanentError);
    expect(() => renderMessage(templates.get('export_ready')!, noLink, 'export_ready')).toThrow(/needs exportLink/);
  });

  it('names the person when there is no organization', () => {
    const person: Subject = { userName: 'ada@example.com', emails: [] };
    expect(renderMessage(templates.get('account_owner')!, view(person), 'owner').subject).toBe(
      'Offboarding of ada@example.com has started',
    );
  });
});

describe('email recipients', () => {
  it('reads the contacts as addresses or { email } entries, lower-cased and deduplicated', () => {
    expect(emailStep({ template: 'started', to: 'contacts' }, subject, config)).toEqual({
      template: 'started',
      to: 'contacts',
      recipients: ['a@client.example', 'b@client.example'],
    });
    expect(emailStep({ event: 'account_owner', to: 'accountOwner' }, subject, config).recipients).toEqual(['owner@example.com']);
    expect(emailStep({ template: 'started', to: ['x@example.com', 'X@example.com'] }, subject, config)).toMatchObject({
      to: 'listed',
      recipients: ['x@example.com'],
    });
  });

  it('reads hostile contact shapes defensively: no organization, inherited fields, non-addresses', () => {
    const shapes: unknown[] = [
      undefined,
      null,
      'a@client.example',
      { contacts: 'a@client.example' },
      Object.create({ contacts: ['inherited@client.example'] }) as object,
      { contacts: [42, null, { email: ['x@y.example'] }, 'two@client.example\r\nBcc: z@evil.example', { email: 'ok@client.example' }] },
    ];
    expect(shapes.map((organization) => contactsOf({ emails: [], organization } as Subject))).toEqual([
      [],
      [],
      [],
      [],
      [],
      ['ok@client.example'],
    ]);
  });

  it('refuses params without a template or recipients, and more recipients than allowed', () => {
    expect(() => emailStep({ to: 'contacts' }, subject, config)).toThrow(/name a template/);
    expect(() => emailStep({ template: 'account_owner', to: 'accountOwner' }, subject, emailConfigSchema.parse(base))).toThrow(
      /names no accountOwner/,
    );
    expect(() => emailStep({ template: 'started' }, subject, config)).toThrow(PermanentError);
    expect(() => emailStep({ template: 'started', to: ['not an address'] }, subject, config)).toThrow(/to/);
    const many = Array.from({ length: 51 }, (_, i) => `c${i}@client.example`);
    expect(() => emailStep({ template: 'started', to: many }, subject, config)).toThrow(/more than maxRecipients \(50\)/);
  });
});

describe('SMTP answers as typed errors', () => {
  const map = (failure: object) => smtpError(Object.assign(new Error('x'), failure), 'email mail: send', 60_000);

  it('maps reply codes: 421/451 rate-limited with the configured delay, other 4xx transient, 5xx permanent', () => {
    const limited = map({ code: 'EENVELOPE', responseCode: 421, response: '421 4.7.0 slow down' });
    expect(limited).toBeInstanceOf(RateLimitedError);
    expect(limited).toMatchObject({ retryAfterMs: 60_000 });
    expect(map({ code: 'EMESSAGE', responseCode: 451 })).toBeInstanceOf(RateLimitedError);
    expect(map({ code: 'EENVELOPE', responseCode: 450 })).toBeInstanceOf(TransientError);
    expect(map({ code: 'EAUTH', responseCode: 454 })).toBeInstanceOf(TransientError);
    expect(map({ code: 'EENVELOPE', responseCode: 550 })).toBeInstanceOf(PermanentError);
    expect(map({ code: 'EAUTH', responseCode: 535, response: '535 5.7.8 bad credentials' })).toBeInstanceOf(PermanentError);
  });

  it('maps transport failures: connection errors transient, credentials and TLS permanent', () => {
    for (const code of ['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'EPROTOCOL'])
      expect(map({ code }), code).toBeInstanceOf(TransientError);
    for (const code of ['EAUTH', 'ENOAUTH', 'ETLS', 'EREQUIRETLS']) expect(map({ code }), code).toBeInstanceOf(PermanentError);
    expect(map({})).toBeInstanceOf(TransientError);
  });

  it('keeps the reply on one short line', () => {
    const error = map({ code: 'EENVELOPE', responseCode: 550, response: `550 5.1.1 no\r\nsuch ${'x'.repeat(500)}` });
    expect(error.message).toMatch(/^email mail: send: EENVELOPE 550 \(550 5\.1\.1 no such x+\)$/);
    expect(error.message.length).toBeLessThan(260);
  });
});
