/**
 * Signed erasure receipts (issue 29): an Ed25519 signature (node:crypto) over
 * `JSON.stringify(receipt)`. The key pair is derived from the master key (HKDF to a 32-byte
 * seed), so every replica signs with the same key and a restart keeps it; the public key is
 * published (`GET /admin/v1/erasure-key`, `deprovisiond erasure-key`) for whoever is handed
 * a receipt. A parsed receipt re-serialises to the bytes signed (JSON keeps key order), so a
 * pretty-printed copy still verifies; any changed value does not.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { ErasureReceipt, SignedReceipt } from '../domain/erasure.ts';
import { deriveKey } from './crypto.ts';

/** PKCS#8 DER of an Ed25519 private key, before its 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface ErasurePublicKey {
  algorithm: 'Ed25519';
  /** First 16 hex digits of the SHA-256 of the raw public key: names the key a receipt was signed with. */
  keyId: string;
  publicKeyPem: string;
}

export class ReceiptSigner {
  readonly #privateKey: KeyObject;
  readonly publicKey: ErasurePublicKey;

  constructor(masterKey: Buffer) {
    const seed = deriveKey(masterKey, 'erasure-receipt-signing/v1');
    this.#privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    const publicKey = createPublicKey(this.#privateKey);
    this.publicKey = {
      algorithm: 'Ed25519',
      keyId: keyIdOf(publicKey),
      publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    };
  }

  sign(receipt: ErasureReceipt): SignedReceipt {
    const value = sign(null, Buffer.from(JSON.stringify(receipt)), this.#privateKey).toString('base64');
    return { receipt, signature: { algorithm: 'Ed25519', keyId: this.publicKey.keyId, value } };
  }
}

function keyIdOf(publicKey: KeyObject): string {
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

export type ReceiptCheck = { valid: true; keyId: string } | { valid: false; why: string };

/** Checks a receipt document (parsed JSON of any shape) against a published public key (PEM). */
export function verifyReceipt(document: unknown, publicKeyPem: string): ReceiptCheck {
  if (document === null || typeof document !== 'object') return { valid: false, why: 'not a receipt: expected a JSON object' };
  const { receipt, signature } = document as { receipt?: unknown; signature?: { algorithm?: unknown; keyId?: unknown; value?: unknown } };
  if (receipt === null || typeof receipt !== 'object') return { valid: false, why: 'not a receipt: no "receipt" object' };
  if (signature?.algorithm !== 'Ed25519' || typeof signature.value !== 'string') {
    return { valid: false, why: 'not a receipt: no Ed25519 "signature"' };
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(publicKeyPem);
  } catch {
    return { valid: false, why: 'the public key is not a PEM public key' };
  }
  const keyId = keyIdOf(publicKey);
  if (signature.keyId !== keyId) return { valid: false, why: `signed with key ${JSON.stringify(signature.keyId)}, not with ${keyId}` };
  const ok = verify(null, Buffer.from(JSON.stringify(receipt)), publicKey, Buffer.from(signature.value, 'base64'));
  return ok
    ? { valid: true, keyId }
    : { valid: false, why: 'the signature does not match the receipt: it was altered, or signed by another key' };
}
