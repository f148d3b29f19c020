/** `serve --config FILE`: runs the daemon until SIGTERM or SIGINT, then drains it. */
import { loadConfig } from '../../config/load.ts';
import { coerceError } from '../../domain/errors.ts';
import { preferSerialScavenges } from '../../runtime/gc.ts';
import { createLogger } from '../../telemetry/logger.ts';
import type { CommandInput } from '../spec.ts';
import { configFile } from './config-file.ts';

export async function serve(input: CommandInput): Promise<number> {
  const file = configFile(input, 'serve');
  const config = loadConfig(file);
  const logger = createLogger();
  logger.info({ scavenges: preferSerialScavenges() }, 'young-generation garbage collection');
  const { startDaemon } = await import('../../daemon.ts');
  const daemon = await startDaemon(config, { configFile: file, logger });
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
