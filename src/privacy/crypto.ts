/**
 * The primitives personal data is kept with: AES-256-GCM from node:crypto for sealing, HKDF
 * for the keys derived from the master key, HMAC-SHA-256 for the blind indexes that let the
 * store find a subject by identifier without holding the identifier.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/** A sealed value: `pd1:` then base64 of IV (12 bytes), tag (16) and ciphertext. */
const SEALED = 'pd1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export const KEY_BYTES = 32;

/** A sub-key of the master key for one purpose; distinct `purpose` strings give independent keys. */
export function deriveKey(master: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `deprovisiond/${purpose}`, KEY_BYTES));
}

export function newDataKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/**
 * Seals `text` under `key`. `aad` binds the ciphertext to where it belongs (the record and
 * column): a sealed value copied into another row does not open there.
 */
export function seal(key: Buffer, aad: string, text: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return SEALED + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

export function isSealed(value: string): boolean {
  return value.startsWith(SEALED);
}

/** Opens a value `seal` made with the same key and aad; throws when either differs or the value was altered. */
export function open(key: Buffer, aad: string, value: string): string {
  const raw = Buffer.from(value.slice(SEALED.length), 'base64');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new Error('sealed value is truncated');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
}

/** The key blind indexes of subject keys are made with: the store's, and a tool's that reads a store it holds the master key of. */
export function subjectIndexKey(master: Buffer): Buffer {
  return deriveKey(master, 'subject-index/v1');
}

/** A keyed hash of an identifier: equal identifiers give equal values; without the key it names nobody. */
export function blindIndex(indexKey: Buffer, value: string): string {
  return `h1:${createHmac('sha256', indexKey).update(value).digest('base64url')}`;
}
