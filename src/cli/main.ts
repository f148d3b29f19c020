/**
 * Finds the command in argv, answers --help / help / --version, parses the options and
 * runs it. Every failure ends here and becomes an exit code (see io.ts) and one message,
 * in JSON on stderr when --json was asked for.
 */
import { parseArgs } from 'node:util';
import { COMMANDS } from './commands.ts';
import { commandHelp, groupHelp, mainHelp } from './help.ts';
import { reportFailure, EXIT, UsageError, type CliIo } from './io.ts';
import { optionsOf, type CommandSpec } from './spec.ts';
import { version } from '../runtime/version.ts';

const HELP_FLAGS = ['--help', '-h'];

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.err.write(mainHelp());
    return EXIT.usage;
  }
  if (HELP_FLAGS.includes(first)) return print(io, mainHelp());
  if (first === '--version' || first === 'version') return print(io, `deprovisiond ${version()}\n`);
  if (first === 'help') return help(rest, io);

  const found = findCommand(argv);
  const asJson = argv.includes('--json');
  if (!found) {
    const group = groupOf(first);
    if (group && rest.some((a) => HELP_FLAGS.includes(a))) return print(io, groupHelp(first, group));
    const message = group
      ? `${first} needs one of: ${group.map((c) => c.name.split(' ')[1]).join(', ')}`
      : `unknown command "${first}"; run \`deprovisiond help\` for the list`;
    return reportFailure(io, first, new UsageError(message), asJson, group ? groupHelp(first, group) : mainHelp());
  }
  const { spec, args } = found;
  try {
    const options = optionsOf(spec);
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    if (values.help) return print(io, commandHelp(spec));
    return await spec.run({ values, positionals, io });
  } catch (error) {
    return reportFailure(io, spec.name, error, asJson, commandHelp(spec));
  }
}

function help(topic: string[], io: CliIo): number {
  if (topic.length === 0) return print(io, mainHelp());
  const found = findCommand(topic);
  if (found?.args.length === 0) return print(io, commandHelp(found.spec));
  const group = groupOf(topic[0]!);
  if (group && topic.length === 1) return print(io, groupHelp(topic[0]!, group));
  return reportFailure(io, 'help', new UsageError(`no command "${topic.join(' ')}"`), false, mainHelp());
}

/** Two-word commands (`config check`) first, then one-word ones. */
function findCommand(argv: string[]): { spec: CommandSpec; args: string[] } | null {
  const two = argv.length >= 2 ? COMMANDS.find((c) => c.name === `${argv[0]!} ${argv[1]!}`) : undefined;
  if (two) return { spec: two, args: argv.slice(2) };
  const one = COMMANDS.find((c) => c.name === argv[0]);
  return one ? { spec: one, args: argv.slice(1) } : null;
}

/** The subcommands of a first word such as `config`, or null when it heads none. */
function groupOf(word: string): CommandSpec[] | null {
  const members = COMMANDS.filter((c) => c.name.startsWith(`${word} `));
  return members.length > 0 ? members : null;
}

function print(io: CliIo, text: string): number {
  io.out.write(text);
  return EXIT.ok;
}
