/**
 * Wraps the per-subject data keys for the keyring. The local wrapper seals them under a key
 * derived from the master key (AES-256-GCM, the key's owner id as associated data). A cloud
 * KMS fits the same interface: `wrap` calls its Encrypt (or GenerateDataKey) with the owner
 * id as encryption context, `unwrap` its Decrypt; the keyring stores what `wrap` returned.
 */
import { deriveKey, open, seal } from './crypto.ts';

export interface KeyWrapper {
  wrap(ownerId: string, dataKey: Buffer): Promise<string>;
  unwrap(ownerId: string, wrapped: string): Promise<Buffer>;
}

export class LocalKeyWrapper implements KeyWrapper {
  readonly #kek: Buffer;

  constructor(masterKey: Buffer) {
    this.#kek = deriveKey(masterKey, 'keyring-wrap/v1');
  }

  wrap(ownerId: string, dataKey: Buffer): Promise<string> {
    return Promise.resolve(seal(this.#kek, `data-key:${ownerId}`, dataKey.toString('base64')));
  }

  unwrap(ownerId: string, wrapped: string): Promise<Buffer> {
    return Promise.resolve(Buffer.from(open(this.#kek, `data-key:${ownerId}`, wrapped), 'base64'));
  }
}
