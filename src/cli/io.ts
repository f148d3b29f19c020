/**
 * What a command writes to, and how a failure becomes an exit code and a message.
 * Exit codes follow kubectl: 0 done, 1 failed (API or network error, config invalid,
 * termination failed, audit chain broken), 2 usage error.
 */
import { ApiError } from './client.ts';

export interface CliIo {
  env: NodeJS.ProcessEnv;
  out: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  err: { write(text: string): unknown; isTTY?: boolean };
}

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** The command line was wrong: exit 2 and show how to call the command. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A config file that does not validate: the problems are listed one per line. */
interface ProblemList {
  file: string;
  problems: string[];
}

/** Writes a failure the way the caller asked (text, or one JSON object on stderr) and returns the exit code. */
export function reportFailure(io: CliIo, command: string, error: unknown, asJson: boolean, usage: string): number {
  const { kind, code, message, extra } = describeFailure(error);
  if (asJson) {
    io.err.write(`${JSON.stringify({ error: { kind, exitCode: code, command, message, ...extra } })}\n`);
    return code;
  }
  if (kind === 'config') {
    io.err.write(`${message}\n`);
    return code;
  }
  io.err.write(`deprovisiond ${command}: ${message}\n`);
  for (const d of (extra.details as Array<{ field: string; message: string }> | undefined) ?? [])
    io.err.write(`  ${d.field}: ${d.message}\n`);
  if (kind === 'usage') io.err.write(`\n${usage}`);
  return code;
}

function describeFailure(error: unknown): { kind: string; code: number; message: string; extra: Record<string, unknown> } {
  if (error instanceof UsageError || (error as { code?: string } | null | undefined)?.code?.startsWith('ERR_PARSE_ARGS')) {
    return { kind: 'usage', code: EXIT.usage, message: (error as Error).message, extra: {} };
  }
  if (error instanceof ApiError) {
    const status = error.status === null ? '' : ` (HTTP ${error.status})`;
    return {
      kind: error.status === null ? 'unreachable' : 'api',
      code: EXIT.failed,
      message: `${error.message}${status}`,
      extra: { status: error.status, ...(Array.isArray(error.details) ? { details: error.details } : {}) },
    };
  }
  // Recognised by name: importing ConfigError would load the config schema (zod, yaml) on every start.
  if ((error as Error | null | undefined)?.name === 'ConfigError') {
    const { file, problems } = error as Error & ProblemList;
    return { kind: 'config', code: EXIT.failed, message: (error as Error).message, extra: { file, problems } };
  }
  return { kind: 'internal', code: EXIT.failed, message: error instanceof Error ? error.message : String(error), extra: {} };
}
