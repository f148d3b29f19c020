/**
 * deprovisiond command line. `serve` runs the daemon, `demo` runs one termination
 * end to end against the sandbox providers, `config check` validates a config file; the
 * admin commands (src/cli/commands.ts) drive a running daemon through its admin API.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/load.ts';
import { coerceError } from './domain/errors.ts';
import { createLogger } from './telemetry/logger.ts';
import { preferSerialScavenges } from './runtime/gc.ts';
import { ADMIN_COMMANDS, ADMIN_USAGE, runAdminCommand, type AdminCommand } from './cli/commands.ts';

const USAGE = `usage: deprovisiond <command> [options]

commands:
  serve --config FILE        run the daemon (SIGTERM/SIGINT drain it gracefully)
  demo [--config FILE]       one termination end to end on SQLite (temp dir) and the sandbox providers
  config check --config FILE validate a config file and exit
  audit verify --config FILE walk the audit chain in the store; exit 1 at the first broken link

${ADMIN_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (ADMIN_COMMANDS.includes(command as AdminCommand)) {
    return runAdminCommand(command as AdminCommand, rest, { env: process.env, out: process.stdout, err: process.stderr });
  }
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'demo': {
      const { runDemo } = await import('./demo.ts');
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string' } } });
      return runDemo({ configFile: values.config });
    }
    case 'config': {
      const { positionals, values } = parseArgs({ args: rest, allowPositionals: true, options: { config: { type: 'string' } } });
      if (positionals[0] !== 'check' || !values.config) break;
      const { checkProviderSettings } = await import('./config/provider-settings.ts');
      const { providerKinds } = await import('../providers/kinds.ts');
      checkProviderSettings(loadConfig(values.config), providerKinds, values.config);
      process.stdout.write(`${values.config}: ok\n`);
      return 0;
    }
    case 'audit': {
      const { positionals, values } = parseArgs({ args: rest, allowPositionals: true, options: { config: { type: 'string' }, json: { type: 'boolean', default: false } } });
      if (positionals[0] !== 'verify' || !values.config) break;
      return auditVerify(values.config, values.json ?? false);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
  }
  process.stderr.write(`unknown command: ${argv.join(' ')}\n\n${USAGE}`);
  return 2;
}

/** Reads the store the config names (no daemon needed) and verifies every link of the chain. */
async function auditVerify(configFile: string, asJson: boolean): Promise<number> {
  const config = loadConfig(configFile);
  const { openStore } = await import('./store/open.ts');
  const { verifyAuditChain } = await import('./audit/verify.ts');
  const store = await openStore(config.store, createLogger({ level: 'warn' }));
  try {
    const report = await verifyAuditChain((after, limit) => store.listAudit(after, limit), await store.auditAnchor(), 1000, () => store.countUnlinkedAudit());
    // Entries not linked yet are not a failure: the running daemon's linker links them moments after they commit.
    const waiting = report.unlinked > 0 ? `; ${report.unlinked} newer entries not linked yet` : '';
    if (asJson) process.stdout.write(`${JSON.stringify(report)}\n`);
    else if (report.ok) process.stdout.write(`audit chain ok: ${report.entries} entries, head ${report.head}${waiting}\n`);
    else process.stdout.write(`audit chain BROKEN at entry ${report.brokenAt} (${report.reason}): ${report.detail}; ${report.entries} entries before it verify${waiting}\n`);
    return report.ok ? 0 : 1;
  } finally {
    await store.close();
  }
}

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } } });
  if (!values.config) {
    process.stderr.write(`serve needs --config FILE\n\n${USAGE}`);
    return 2;
  }
  const config = loadConfig(values.config);
  const logger = createLogger();
  logger.info({ scavenges: preferSerialScavenges() }, 'young-generation garbage collection');
  const { startDaemon } = await import('./daemon.ts');
  const daemon = await startDaemon(config, { configFile: values.config, logger });
  await new Promise<void>((resolve) => {
    const shutdown = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down: no new claims, draining in-flight tasks');
      // A second signal while draining means "now".
      process.once(signal, () => process.exit(130));
      daemon.stop().then(resolve, (error: unknown) => {
        logger.error({ err: coerceError(error) }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGTERM', shutdown);
    process.once('SIGINT', shutdown);
  });
  logger.info('stopped');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Config errors are for people: print them plainly, without a stack.
    if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
    else process.stderr.write(`deprovisiond: ${coerceError(error).message}\n`);
    process.exitCode = 1;
  },
);
