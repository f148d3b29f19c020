/**
 * The email channel: a `notify` step renders a configured template and submits one message
 * over SMTP to the step's recipients (the client's contacts, the account owner, or listed
 * addresses). SMTP has no read API, so the proof is the relay's acceptance (250 after DATA)
 * and `verify` reports it as an acknowledgement, never as a read-back.
 *
 * Once only, as far as SMTP allows: the Message-ID is derived from the task id, the same for
 * every retry, so a retry after a lost answer resends the same message and receivers that
 * de-duplicate by Message-ID drop the copy; recipients a relay already accepted are kept in the
 * error's checkpoint, so a retry after a partial refusal goes only to the others.
 */
import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { JsonObject } from '../../src/domain/types.ts';
import {
  PermanentError,
  VerificationError,
  withCheckpoint,
  type ActionContext,
  type ExecuteResult,
  type Provider,
  type ProviderFactoryContext,
} from '../contract.ts';
import { Acknowledgements } from '../http/acknowledgements.ts';
import { noThrottle } from '../http/request.ts';
import { render } from '../template.ts';
import { compileExportLink, compileTemplates, LOOPBACK, type EmailConfig } from './config.ts';
import { replyText, responseCodeOf, smtpError } from './errors.ts';
import { emailStep } from './recipients.ts';
import { messageView, renderMessage, subjectView } from './templates.ts';

interface Acceptance extends JsonObject {
  messageId: string;
  accepted: string[];
  response: string;
  at: string;
}

/** The transport options: TLS required off loopback, certificates checked, no SDK-side extras. */
export function transportOptions(config: EmailConfig): SMTPTransport.Options {
  const { smtp } = config;
  const loopback = LOOPBACK.test(smtp.host);
  return {
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    // STARTTLS must succeed before AUTH or MAIL: credentials and client data never cross a network in clear.
    requireTLS: !smtp.secure && !loopback,
    ...(smtp.auth ? { auth: { user: smtp.auth.user, pass: smtp.auth.pass } } : {}),
    tls: { minVersion: 'TLSv1.2', rejectUnauthorized: true, ...(smtp.ca ? { ca: smtp.ca } : {}) },
    connectionTimeout: config.timeoutMs,
    greetingTimeout: config.timeoutMs,
    socketTimeout: config.timeoutMs,
    // Templates come from config, never a file or URL to attach.
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
    debug: false,
  };
}

export function createEmailProvider(config: EmailConfig, factory: ProviderFactoryContext): Provider {
  const name = factory.name;
  const throttle = factory.throttle ?? noThrottle;
  const acknowledged = new Acknowledgements<Acceptance>();
  const templates = compileTemplates(config);
  const exportLinkTemplate = compileExportLink(config);
  const domain = config.messageIdDomain ?? config.from.slice(config.from.indexOf('@') + 1);

  async function send(ctx: ActionContext): Promise<ExecuteResult> {
    // The lease fence, before anything else: the SMTP session is this step's one request.
    await throttle(ctx.signal);
    const step = emailStep(ctx.params, ctx.subject, config);
    const template = templates.get(step.template);
    if (!template) throw new PermanentError(`email ${name}: no template named ${step.template}`);
    if (step.recipients.length === 0) {
      return { evidence: { channel: name, template: step.template, to: step.to }, skipped: `no recipient: ${step.to} names no address` };
    }
    const messageId = `<deprovisiond.${ctx.taskId}@${domain}>`;
    const before = acceptedBefore(ctx.checkpoint);
    const remaining = step.recipients.filter((r) => !before.has(r));
    const evidence = (accepted: string[], response: string): JsonObject => ({
      channel: name,
      template: step.template,
      to: step.to,
      messageId,
      accepted,
      response,
    });
    if (remaining.length === 0) {
      const ack: Acceptance = { messageId, accepted: [...before], response: 'accepted by an earlier attempt', at: ctx.now().toISOString() };
      acknowledged.record(ctx.taskId, ack);
      return { evidence: { ...evidence(ack.accepted, ack.response), alreadyDone: true } };
    }
    const exportLink = exportLinkTemplate
      ? render(
          exportLinkTemplate,
          { subject: subjectView(ctx.subject), terminationId: ctx.terminationId },
          'url',
          `email ${name} exportLink`,
        )
      : undefined;
    const message = renderMessage(
      template,
      messageView({
        subject: ctx.subject,
        terminationId: ctx.terminationId,
        effectiveAt: ctx.effectiveAt,
        exportLink,
        surveyUrl: config.surveyUrl,
      }),
      `email ${name} template ${step.template}`,
    );
    const transport = nodemailer.createTransport(transportOptions(config));
    let info: SMTPTransport.SentMessageInfo;
    try {
      info = await transport.sendMail({
        from: config.fromName ? { name: config.fromName, address: config.from } : config.from,
        ...(config.replyTo ? { replyTo: config.replyTo } : {}),
        // The header names every recipient; the envelope only those not accepted yet.
        to: step.recipients,
        envelope: { from: config.from, to: remaining },
        subject: message.subject,
        text: message.text,
        ...(message.html ? { html: message.html } : {}),
        messageId,
        // RFC 3834: an automatic message, so out-of-office replies stay away.
        headers: { 'Auto-Submitted': 'auto-generated' },
      });
    } catch (error) {
      throw withCheckpoint(smtpError(error, `email ${name}: send`, config.rateLimitDelayMs, ctx.signal), {
        messageId,
        accepted: [...before],
      });
    } finally {
      transport.close();
    }
    const accepted = [...before, ...addresses(info.accepted)];
    const response = replyText(info.response);
    const refused = info.rejectedErrors ?? [];
    if (refused.length > 0 || addresses(info.rejected).length > 0) {
      // Some recipients were refused: the others have the message. The retry goes to the refused only.
      const codes = refused.map(responseCodeOf).filter((c): c is number => c !== null);
      const worst = codes.find((c) => c < 500) ?? codes[0] ?? 550;
      const error = smtpError(
        { code: 'EENVELOPE', responseCode: worst, response: refused[0]?.message },
        `email ${name}: ${addresses(info.rejected).length} of ${step.recipients.length} recipients refused`,
        config.rateLimitDelayMs,
      );
      throw withCheckpoint(error, { messageId, accepted });
    }
    const ack: Acceptance = { messageId, accepted, response, at: ctx.now().toISOString() };
    acknowledged.record(ctx.taskId, ack);
    return { evidence: evidence(accepted, response) };
  }

  return {
    kind: 'email',
    name,
    // A channel, not an account: every termination can be written about.
    resolve: async () => ({ id: name }),
    actions: {
      notify: {
        execute: (_account, ctx) => send(ctx),
        async verify(_account, ctx) {
          const ack = acknowledged.take(ctx.taskId);
          if (!ack) throw new VerificationError('no SMTP acceptance recorded for this message', { channel: name });
          return {
            acknowledgedWith: ack.response,
            messageId: ack.messageId,
            accepted: ack.accepted,
            at: ack.at,
            readBack: 'none: SMTP offers no read API; the relay accepting the message (250 after DATA) is the proof of hand-over',
          };
        },
      },
    },
    async validate({ signal }) {
      // Connects, says EHLO, starts TLS and logs in: wrong credentials or a relay without TLS fail the start.
      const transport = nodemailer.createTransport(transportOptions(config));
      try {
        await transport.verify();
      } catch (error) {
        throw smtpError(error, `email ${name}: validate`, config.rateLimitDelayMs, signal);
      } finally {
        transport.close();
      }
    },
  };
}

function acceptedBefore(checkpoint: JsonObject | null): Set<string> {
  const accepted = checkpoint && Object.hasOwn(checkpoint, 'accepted') ? checkpoint.accepted : null;
  return new Set(Array.isArray(accepted) ? accepted.filter((a): a is string => typeof a === 'string') : []);
}

/** nodemailer lists addresses as strings or `{ address }` objects. */
function addresses(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((entry: unknown) => {
    const value = typeof entry === 'object' && entry !== null ? (entry as { address?: unknown }).address : entry;
    return typeof value === 'string' ? [value.toLowerCase()] : [];
  });
}
