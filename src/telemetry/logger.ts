/**
 * pino JSON logs. Redaction is by key, at any depth we log, so a token that reaches a
 * log call by accident is censored rather than written.
 */
import pino, { type Logger } from 'pino';

export const REDACTED_KEYS = [
  'token',
  'tokens',
  'secret',
  'secrets',
  'password',
  'clientSecret',
  'privateKey',
  'apiKey',
  'authorization',
  'Authorization',
  'cookie',
  'webhook-signature',
];

const redactPaths = REDACTED_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `req.headers.${k.toLowerCase()}`]);

export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { service: 'deprovisiond' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}

/** A logger that writes nothing: for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
