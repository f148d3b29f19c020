/** Help text, generated from the command table so it can never disagree with the parser. */
import { COMMANDS } from './commands.ts';
import { optionsOf, type CommandSpec, type OptionSpec } from './spec.ts';

const EXIT_CODES = `Exit codes:
  0  done
  1  failed: an API or network error, an invalid config, a failed termination, a broken audit chain
  2  usage error: unknown command or option, missing argument
`;

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const line = (c: CommandSpec) => `  ${c.name.padEnd(width)}  ${c.summary}\n`;
  return [
    'deprovisiond: termination events in, verified loss of access out.\n\n',
    'Usage:\n  deprovisiond <command> [options]\n  deprovisiond help <command>    (or: deprovisiond <command> --help)\n  deprovisiond --version\n\n',
    'Daemon, files and shell:\n',
    ...COMMANDS.filter((c) => !c.remote).map(line),
    '\nAdmin commands (talk to a running daemon through its admin API):\n',
    ...COMMANDS.filter((c) => c.remote).map(line),
    '\nThe admin commands find the daemon at $DEPROVISIOND_URL (default http://127.0.0.1:8080, where\n',
    '`serve` listens unless the config says otherwise) and send the token in $DEPROVISIOND_TOKEN.\n',
    'Every command takes --json.\n\n',
    EXIT_CODES,
  ].join('');
}

export function commandHelp(spec: CommandSpec): string {
  const options = Object.entries(optionsOf(spec)).map(([name, o]) => [flag(name, o), o.help] as const);
  const width = Math.max(...options.map(([f]) => f.length));
  return [
    `${spec.summary[0]!.toUpperCase()}${spec.summary.slice(1)}.\n\n`,
    'Usage:\n',
    ...spec.usage.map((u) => `  deprovisiond ${spec.name} ${u}\n`),
    spec.options['external-id'] ? '  SUBJECT is one or more of --external-id, --user-name, --email.\n' : '',
    '\nOptions:\n',
    ...options.map(([f, help]) => `  ${f.padEnd(width)}  ${help}\n`),
    '\nExample:\n',
    ...spec.examples.map((e) => `  ${e}\n`),
    '\n',
    EXIT_CODES,
  ].join('');
}

export function groupHelp(word: string, members: CommandSpec[]): string {
  return [
    `Usage:\n  deprovisiond ${word} <${members.map((c) => c.name.split(' ')[1]).join('|')}> [options]\n\nCommands:\n`,
    ...members.map((c) => `  ${c.name}  ${c.summary}\n`),
    `\nRun \`deprovisiond ${members[0]!.name} --help\` for its options.\n`,
  ].join('');
}

function flag(name: string, option: OptionSpec): string {
  const short = option.short ? `-${option.short}, ` : '    ';
  return `${short}--${name}${option.value ? ` ${option.value}` : ''}`;
}
