/** What the admin commands share: the client built from --url/--token or the environment, and argument checks. */
import { AdminClient } from '../client.ts';
import { EXIT, UsageError, type CliIo } from '../io.ts';
import type { Values } from '../spec.ts';

/** Where `serve` listens with the default config (server.host 127.0.0.1, server.port 8080). */
export const DEFAULT_URL = 'http://127.0.0.1:8080';

export function clientFor(values: Values, io: CliIo): AdminClient {
  const url = (values.url as string | undefined) ?? io.env.DEPROVISIOND_URL ?? DEFAULT_URL;
  const token = (values.token as string | undefined) ?? io.env.DEPROVISIOND_TOKEN;
  if (!token) throw new UsageError('no admin token: set DEPROVISIOND_TOKEN (or pass --token)');
  try {
    return new AdminClient(url, token);
  } catch {
    throw new UsageError(`--url: not a URL: ${url}`);
  }
}

export function onePositional(positionals: string[], name: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected exactly one ${name}, got ${positionals.length}`);
  return positionals[0]!;
}

export function noPositionals(positionals: string[]): void {
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]!}"`);
}

export function printJson(io: CliIo, value: unknown, code: number = EXIT.ok): number {
  io.out.write(`${JSON.stringify(value, null, 2)}\n`);
  return code;
}

export const str = (values: Values, name: string): string | undefined => values[name] as string | undefined;

/** The subject named by the SUBJECT_OPTIONS flags, as the admin API takes it. */
export function subjectFrom(values: Values): Record<string, unknown> {
  const subject: Record<string, unknown> = { emails: values.email ?? [] };
  if (values['external-id']) subject.externalId = values['external-id'];
  if (values['user-name']) subject.userName = values['user-name'];
  if (values['display-name']) subject.displayName = values['display-name'];
  if (values['manager-email']) subject.manager = { email: values['manager-email'] };
  if (!subject.externalId && !subject.userName && (subject.emails as string[]).length === 0) {
    throw new UsageError('name the subject: --external-id, --user-name or --email');
  }
  return subject;
}
