/**
 * deprovisiond command line: `deprovisiond help` lists the commands (src/cli/commands.ts).
 * This file only connects the process to the CLI: arguments, streams, exit code.
 */
import { runCli } from './cli/main.ts';

// `deprovisiond status ID | head -3`: the reader has gone, so stop quietly instead of
// dying on EPIPE with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

process.exitCode = await runCli(process.argv.slice(2), { env: process.env, out: process.stdout, err: process.stderr });
