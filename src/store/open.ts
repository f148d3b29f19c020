/** Opens the store the config names: SQLite (embedded default) or PostgreSQL. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { masterKeyFile } from '../privacy/master-key-file.ts';
import { createSqliteStore } from './sqlite.ts';
import type { Store } from './store.ts';

/** PostgreSQL refuses to start without `privacy.masterKey`: replicas must share it, so none can make one up. */
export class MasterKeyRequiredError extends Error {
  constructor() {
    super(
      'privacy.masterKey is required with a PostgreSQL store: every replica wraps data keys and signs erasure receipts with it (32 bytes, base64; docs/privacy.md)',
    );
    this.name = 'MasterKeyRequiredError';
  }
}

export async function openStore(
  config: Config['store'],
  logger: Logger,
  clock?: () => Date,
  privacy: Partial<Config['privacy']> = {},
): Promise<Store> {
  const given: Buffer | null = privacy.masterKey ? Buffer.from(privacy.masterKey, 'base64') : null;
  if ('sqlite' in config) {
    mkdirSync(dirname(config.sqlite.path), { recursive: true });
    let masterKey: Buffer;
    if (given) masterKey = given;
    else {
      const file = masterKeyFile(config.sqlite.path);
      masterKey = file.key;
      // Once per start: the file sits beside the store, where a backup of the directory takes it along.
      logger.warn(
        { keyFile: file.path, created: file.created },
        "privacy.masterKey is not set: using a key file beside the store; set privacy.masterKey (or move the file out of the store's backups: docs/privacy.md)",
      );
    }
    return createSqliteStore(config.sqlite.path, clock, {
      // A failed background link run is tried again on the next wake or timer; operators still want to see it.
      onLinkerError: (error) => logger.warn({ error: error instanceof Error ? error.message : String(error) }, 'audit linker run failed'),
      privacy: { masterKey },
      ...(privacy.keyringPath ? { keyringPath: privacy.keyringPath } : {}),
    });
  }
  if (!given) throw new MasterKeyRequiredError();
  // Loaded on demand: an SQLite deployment never needs the pg driver.
  const { createPostgresStore } = await import('./postgres.ts');
  return createPostgresStore(
    {
      url: config.postgres.url,
      poolSize: config.postgres.poolSize,
      schema: config.postgres.schema,
      privacy: { masterKey: given },
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
