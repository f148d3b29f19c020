/**
 * Personal data at rest (issue 29): each record that holds a person's data (a termination
 * with its tasks, attempts, re-verifications and audit entries; a legal hold; a directory
 * user) has a data key of its own in the keyring, wrapped by the master key (or a KMS:
 * src/privacy/key-wrapper.ts). The personal columns hold values sealed under that key, and
 * the identifiers the store looks subjects up by are blind indexes (keyed hashes).
 * Destroying the record's key (erasure) leaves only ciphertext, in the tables and in every
 * copy of them: the keyring is a database of its own (SQLite: a separate file attached to
 * the connection; PostgreSQL: the schema `<store schema>_keyring`), kept out of the store's
 * backups (docs/privacy.md).
 *
 * The keyring is read in the transaction that reads the records, so a key destroyed on
 * another replica is gone for this one at its next read: unwrapped keys are cached by
 * their wrapped form only, never by owner.
 */
import type { Kysely } from 'kysely';
import { blindIndex, isSealed, newDataKey, open, seal } from '../../privacy/crypto.ts';
import type { KeyWrapper } from '../../privacy/key-wrapper.ts';
import type { Database } from '../schema.ts';

/** What a sealed field reads as once its record's key is destroyed. */
export const ERASED = '[erased]';

const UNWRAPPED_CACHE = 4096;
/** Keys read per query: below both dialects' bound on parameters. */
const KEY_BATCH = 500;

export interface DataKeysTable {
  owner_id: string;
  wrapped: string;
  created_at: number;
}

export interface KeyringDatabase {
  data_keys: DataKeysTable;
}

type Db = Kysely<Database>;

/** The data keys of a set of records, read at once: seals and opens their fields. */
export class RecordKeys {
  constructor(private readonly keys: ReadonlyMap<string, Buffer>) {}

  has(ownerId: string): boolean {
    return this.keys.has(ownerId);
  }

  /** Seals `text` as column `field` of record `ownerId`; the record's key must have been read or created. */
  seal(ownerId: string, field: string, text: string): string {
    const key = this.keys.get(ownerId);
    if (!key) throw new Error(`no data key for record ${ownerId}: it was erased, or its key was not read first`);
    return seal(key, `${field}:${ownerId}`, text);
  }

  sealJson(ownerId: string, field: string, value: unknown): string {
    return this.seal(ownerId, field, JSON.stringify(value));
  }

  /**
   * Opens a stored value: a sealed one with its record's key, a value written before
   * migration 0016 (not sealed) as it is; null when the record's key is destroyed.
   */
  open(ownerId: string, field: string, stored: string): string | null {
    if (!isSealed(stored)) return stored;
    const key = this.keys.get(ownerId);
    return key ? open(key, `${field}:${ownerId}`, stored) : null;
  }
}

/**
 * A data key in the keyring does not open with this master key (or KMS): the daemon was
 * started with another `privacy.masterKey` than the one the keyring was written with, or the
 * keyring file belongs to another store. Nothing sealed can be read until that is fixed.
 */
export class KeyringMismatchError extends Error {
  constructor(ownerId: string, cause: unknown) {
    super(
      `the keyring's data key of record ${ownerId} does not open with the configured master key: start the daemon with the privacy.masterKey (or KMS) the keyring was written with, and the keyring that belongs to this store (docs/privacy.md)`,
      { cause },
    );
    this.name = 'KeyringMismatchError';
  }
}

/** No keys: for rows that hold nothing sealed yet (a new re-verification, a task created without an account). */
export const NO_KEYS = new RecordKeys(new Map());

export class PersonalData {
  readonly #unwrapped = new Map<string, Buffer>();
  /** Keys destroyed since the last `takeDestroyed()`: whether a purge of old bytes is due (context.ts). */
  #destroyed = 0;

  constructor(
    /** The keyring's schema: an attached database (SQLite) or a schema (PostgreSQL). */
    private readonly keyringSchema: string,
    private readonly wrapper: KeyWrapper,
    private readonly indexKey: Buffer,
  ) {}

  /** The blind index of a subject key (`email:…`, `ext:…`): what the store files and finds it under. */
  index(subjectKey: string): string {
    return blindIndex(this.indexKey, subjectKey);
  }

  private keyring(db: Db): Kysely<KeyringDatabase> {
    return (db as unknown as Kysely<KeyringDatabase>).withSchema(this.keyringSchema);
  }

  /** Creates each record's data key (in the caller's transaction) and returns them for sealing. */
  async create(db: Db, ownerIds: readonly string[], now: number): Promise<RecordKeys> {
    const keys = new Map<string, Buffer>();
    for (const ownerId of ownerIds) {
      const key = newDataKey();
      const wrapped = await this.wrapper.wrap(ownerId, key);
      await this.keyring(db).insertInto('data_keys').values({ owner_id: ownerId, wrapped, created_at: now }).execute();
      this.remember(wrapped, key);
      keys.set(ownerId, key);
    }
    return new RecordKeys(keys);
  }

  /** The data keys the records still have (an erased record has none). */
  async read(db: Db, ownerIds: Iterable<string>): Promise<RecordKeys> {
    const wanted = [...new Set(ownerIds)];
    const keys = new Map<string, Buffer>();
    for (let i = 0; i < wanted.length; i += KEY_BATCH) {
      const rows = await this.keyring(db)
        .selectFrom('data_keys')
        .select(['owner_id', 'wrapped'])
        .where('owner_id', 'in', wanted.slice(i, i + KEY_BATCH))
        .execute();
      for (const row of rows) keys.set(row.owner_id, await this.unwrap(row.owner_id, row.wrapped));
    }
    return new RecordKeys(keys);
  }

  /** Destroys the records' data keys (in the caller's transaction): what they sealed can no longer be opened. */
  async destroy(db: Db, ownerIds: readonly string[]): Promise<number> {
    let destroyed = 0;
    for (let i = 0; i < ownerIds.length; i += KEY_BATCH) {
      const batch = ownerIds.slice(i, i + KEY_BATCH);
      // Forgotten here too: this process must not open with a cached key what the keyring no longer holds.
      const wrapped = await this.keyring(db).selectFrom('data_keys').select('wrapped').where('owner_id', 'in', batch).execute();
      for (const row of wrapped) this.#unwrapped.delete(row.wrapped);
      const result = await this.keyring(db).deleteFrom('data_keys').where('owner_id', 'in', batch).executeTakeFirst();
      destroyed += Number(result.numDeletedRows);
    }
    this.#destroyed += destroyed;
    return destroyed;
  }

  /** How many keys were destroyed since the last call (a rolled-back destroy counts too: a purge too many is harmless). */
  takeDestroyed(): number {
    const destroyed = this.#destroyed;
    this.#destroyed = 0;
    return destroyed;
  }

  private async unwrap(ownerId: string, wrapped: string): Promise<Buffer> {
    const cached = this.#unwrapped.get(wrapped);
    if (cached) return cached;
    let key: Buffer;
    try {
      key = await this.wrapper.unwrap(ownerId, wrapped);
    } catch (error) {
      throw new KeyringMismatchError(ownerId, error);
    }
    this.remember(wrapped, key);
    return key;
  }

  private remember(wrapped: string, key: Buffer): void {
    if (this.#unwrapped.size >= UNWRAPPED_CACHE) this.#unwrapped.delete(this.#unwrapped.keys().next().value!);
    this.#unwrapped.set(wrapped, key);
  }
}
