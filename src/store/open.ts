/** Opens the store the config names: SQLite (embedded default) or PostgreSQL. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { createSqliteStore } from './sqlite.ts';
import type { Store } from './store.ts';

export async function openStore(config: Config['store'], logger: Logger, clock?: () => Date): Promise<Store> {
  if ('sqlite' in config) {
    mkdirSync(dirname(config.sqlite.path), { recursive: true });
    return createSqliteStore(config.sqlite.path, clock, {
      // A failed background link run is tried again on the next wake or timer; operators still want to see it.
      onLinkerError: (error) => logger.warn({ error: error instanceof Error ? error.message : String(error) }, 'audit linker run failed'),
    });
  }
  // Loaded on demand: an SQLite deployment never needs the pg driver.
  const { createPostgresStore } = await import('./postgres.ts');
  return createPostgresStore(
    {
      url: config.postgres.url,
      poolSize: config.postgres.poolSize,
      schema: config.postgres.schema,
      // The store recovers by itself (reconnects, link runs tried again); operators still want to see it happen.
      onError: (error, context) =>
        // pg's errors can carry the client (user, host, database): log what happened, not the object.
        logger.warn(
          { context, error: error.message, code: (error as { code?: unknown }).code ?? null },
          context === 'linker' ? 'audit linker run failed' : 'postgres connection error',
        ),
    },
    clock,
  );
}
