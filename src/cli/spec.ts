/** The shape of one CLI command: its words, options, help text and the code it runs. */
import type { CliIo } from './io.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** Placeholder shown in help, e.g. FILE. */
  value?: string;
  help: string;
}

export type Values = Record<string, string | boolean | Array<string | boolean> | undefined>;

export interface CommandInput {
  values: Values;
  positionals: string[];
  io: CliIo;
}

export interface CommandSpec {
  /** One or two words: `status`, `config check`. */
  name: string;
  summary: string;
  /** Usage lines after `deprovisiond <name> `, e.g. `ID STEP --outcome done|not_applicable --reason R`. */
  usage: string[];
  options: Record<string, OptionSpec>;
  examples: string[];
  /** Talks to a running daemon through the admin API: takes --url and --token. */
  remote: boolean;
  /** Runs the command; implementations are imported here, on first use, so start-up loads only what it needs. */
  run(input: CommandInput): Promise<number>;
}

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean', help: 'print JSON; errors go to stderr as one JSON object' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

export const REMOTE_OPTIONS: Record<string, OptionSpec> = {
  url: {
    type: 'string',
    value: 'URL',
    help: 'the daemon (default $DEPROVISIOND_URL, else http://127.0.0.1:8080, the port `serve` listens on by default)',
  },
  token: {
    type: 'string',
    value: 'TOKEN',
    help: 'admin token (default $DEPROVISIOND_TOKEN; prefer the variable: other local users can see arguments in the process list)',
  },
};

export const SUBJECT_OPTIONS: Record<string, OptionSpec> = {
  'external-id': { type: 'string', value: 'ID', help: "the subject's HRIS id" },
  'user-name': { type: 'string', value: 'NAME', help: "the subject's userName at the IdP" },
  email: { type: 'string', multiple: true, value: 'EMAIL', help: 'an email of the subject (repeatable)' },
  'display-name': { type: 'string', value: 'NAME', help: 'shown in evidence and notifications' },
  'manager-email': { type: 'string', value: 'EMAIL', help: 'who receives transferred files and notifications' },
  organization: { type: 'string', value: 'ID', help: 'a client organization (your id for it): its members are offboarded' },
  'organization-name': { type: 'string', value: 'NAME', help: "with --organization: the client's name" },
  domain: {
    type: 'string',
    multiple: true,
    value: 'HOST',
    help: "with --organization: an email domain of the client's people (repeatable)",
  },
  contact: { type: 'string', multiple: true, value: 'EMAIL', help: 'with --organization: a contact address at the client (repeatable)' },
  'okta-group': { type: 'string', value: 'GROUP', help: "with --organization: the client's Okta group (id or name)" },
  'scim-organization': { type: 'string', value: 'VALUE', help: "with --organization: the client's organization value at the SCIM app" },
  'entra-tenant': { type: 'string', value: 'ID', help: "with --organization: the client's Entra tenant id" },
  'effective-at': { type: 'string', value: 'ISO', help: 'when access must end (default now); a future time waits, e.g. a notice period' },
  playbook: { type: 'string', value: 'NAME', help: "the playbook to run (default the config's defaultPlaybook)" },
};

/** Every option a command accepts, as node:util parseArgs wants them. */
export function optionsOf(spec: CommandSpec): Record<string, OptionSpec> {
  return { ...spec.options, ...(spec.remote ? REMOTE_OPTIONS : {}), ...GLOBAL_OPTIONS };
}
