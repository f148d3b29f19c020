/**
 * A real SMTP server for the email tests: Debian's aiosmtpd (python3-aiosmtpd, installed by
 * scripts/ensure-smtp.sh) on a free loopback port, delivering into a Maildir in a temp dir,
 * with a handler that refuses some recipients as relays do (smtp_refusing_mailbox.py). The
 * tests read what was delivered with mailparser. Missing: skipped with a printed reason on a
 * workstation, a failure in CI.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { simpleParser, type ParsedMail } from 'mailparser';
import { freePort, serverAvailable, startServer, waitForPort, type ServerProcess } from './directory-server.ts';

/** Debian's interpreter: the package installs for it, not for a pyenv python3 earlier on PATH. */
const PYTHON = '/usr/bin/python3';

export function smtpServerAvailable(): boolean {
  return serverAvailable(PYTHON, 'aiosmtpd (python3-aiosmtpd)', {
    script: 'scripts/ensure-smtp.sh',
    installed: () => spawnSync(PYTHON, ['-c', 'import aiosmtpd'], { stdio: 'ignore' }).status === 0,
  });
}

export interface SmtpServer {
  host: string;
  port: number;
  /** Every message delivered so far, parsed, oldest first. */
  delivered(): Promise<ParsedMail[]>;
  stop(): Promise<void>;
}

export async function startSmtpServer(): Promise<SmtpServer> {
  const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-smtp-'));
  const port = await freePort();
  const helpers = dirname(fileURLToPath(import.meta.url));
  const server: ServerProcess = startServer('/usr/bin/env', [
    `PYTHONPATH=${helpers}`,
    PYTHON,
    '-m',
    'aiosmtpd',
    '-n',
    '-l',
    `127.0.0.1:${port}`,
    '-c',
    'smtp_refusing_mailbox.RefusingMailbox',
    join(dir, 'Maildir'),
  ]);
  try {
    await waitForPort(port, server.child, server.output);
  } catch (error) {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    host: '127.0.0.1',
    port,
    async delivered() {
      const fresh = join(dir, 'Maildir', 'new');
      let names: string[];
      try {
        names = readdirSync(fresh);
      } catch {
        return [];
      }
      // Maildir names start with the delivery time in seconds; ties are rare and in a test harmless.
      const mails = await Promise.all(names.sort().map((name) => simpleParser(readFileSync(join(fresh, name)))));
      return mails;
    },
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
