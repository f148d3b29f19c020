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
  const organization = organizationFrom(values);
  if (organization) subject.organization = organization;
  if (!subject.externalId && !subject.userName && (subject.emails as string[]).length === 0 && !organization) {
    throw new UsageError('name the subject: --external-id, --user-name, --email or --organization');
  }
  return subject;
}

const ORGANIZATION_DETAILS = ['organization-name', 'domain', 'contact', 'okta-group', 'scim-organization', 'entra-tenant'] as const;

/** The client organization named by --organization and its details; the admin API checks each field. */
function organizationFrom(values: Values): Record<string, unknown> | null {
  const id = str(values, 'organization');
  if (id === undefined) {
    const stray = ORGANIZATION_DETAILS.find((flag) => values[flag] !== undefined);
    if (stray) throw new UsageError(`--${stray} goes with --organization`);
    return null;
  }
  const domains = (values.domain as string[] | undefined) ?? [];
  if (domains.length === 0) throw new UsageError('--organization needs at least one --domain (the email domain of its people)');
  const organization: Record<string, unknown> = { id, domains };
  if (values['organization-name'] !== undefined) organization.name = values['organization-name'];
  if (values.contact !== undefined) organization.contacts = values.contact;
  const tenants: Record<string, unknown> = {};
  if (values['okta-group'] !== undefined) tenants.okta = values['okta-group'];
  if (values['scim-organization'] !== undefined) tenants.scim = values['scim-organization'];
  if (values['entra-tenant'] !== undefined) tenants.entra = values['entra-tenant'];
  if (Object.keys(tenants).length > 0) organization.tenants = tenants;
  return organization;
}
