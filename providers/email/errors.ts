/**
 * SMTP answers and transport failures turned into the engine's error vocabulary. The reply
 * code decides (RFC 5321 §4.2.1: 4yz transient, 5yz permanent), then nodemailer's error code;
 * message text never does. Messages carry the code and the server's reply, cut short and
 * without control characters, never the credentials.
 */
import { PermanentError, RateLimitedError, TransientError, type DeprovisionError } from '../contract.ts';
import { engineErrorIn } from '../http/errors.ts';

/** 421 (service closing, the usual "too many connections") and 451 (local error, greylisting): wait, then retry. */
const RATE_LIMIT_CODES: ReadonlySet<number> = new Set([421, 451]);
/** Failures a retry cannot cure: credentials, configuration, the message itself, a relay without the TLS we require. */
const PERMANENT_CODES: ReadonlySet<string> = new Set([
  'EAUTH',
  'ENOAUTH',
  'EOAUTH2',
  'ECONFIG',
  'EENVELOPE',
  'EMESSAGE',
  'ETLS',
  'EREQUIRETLS',
  'EMAXRECIPIENTS',
]);

export interface SmtpFailure {
  code?: unknown;
  responseCode?: unknown;
  response?: unknown;
}

/** The server's reply as evidence or error text: one line, at most 200 characters. */
export function replyText(response: unknown): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is removed
  return typeof response === 'string' ? response.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 200) : '';
}

export function smtpError(error: unknown, summary: string, rateLimitDelayMs: number, signal?: AbortSignal): DeprovisionError {
  const engine = engineErrorIn(error);
  if (engine) return engine;
  if (signal?.aborted) return new TransientError(`${summary}: stopped, the attempt was aborted (shutdown or its deadline)`);
  const failure = (typeof error === 'object' && error !== null ? error : {}) as SmtpFailure;
  const code = typeof failure.code === 'string' ? failure.code : 'unknown';
  const reply = typeof failure.responseCode === 'number' ? failure.responseCode : null;
  const message = `${summary}: ${code}${reply !== null ? ` ${reply}` : ''}${failure.response ? ` (${replyText(failure.response)})` : ''}`;
  if (reply !== null && RATE_LIMIT_CODES.has(reply)) return new RateLimitedError(message, rateLimitDelayMs);
  if (reply !== null && reply >= 400 && reply < 500) return new TransientError(message);
  if (reply !== null && reply >= 500) return new PermanentError(message);
  if (PERMANENT_CODES.has(code)) return new PermanentError(message);
  // Connection refused or reset, DNS, timeouts, a garbled reply: the relay may be back soon.
  return new TransientError(message);
}

/** The reply code of one refused recipient (nodemailer's `rejectedErrors`), else null. */
export function responseCodeOf(error: unknown): number | null {
  const code = typeof error === 'object' && error !== null ? (error as SmtpFailure).responseCode : undefined;
  return typeof code === 'number' ? code : null;
}
