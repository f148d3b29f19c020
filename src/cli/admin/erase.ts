/**
 * `deprovisiond erase` (one termination, or every termination of a subject), `erasure-key`
 * and `verify-receipt FILE` (issue 29, docs/privacy.md). The erasure answers a signed
 * receipt; `--receipt FILE` keeps it for the person or client it is given to.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { SignedReceipt } from '../../domain/erasure.ts';
import { verifyReceipt, type ErasurePublicKey } from '../../privacy/receipt.ts';
import { EXIT, UsageError } from '../io.ts';
import type { CommandInput } from '../spec.ts';
import { clientFor, noPositionals, onePositional, printJson, str, subjectFrom } from './common.ts';

export async function erase({ values, positionals, io }: CommandInput): Promise<number> {
  const reason = str(values, 'reason')?.trim();
  if (!reason) throw new UsageError('--reason is required: why the personal data is erased (it goes into the audit log and the receipt)');
  const subjectGiven = ['external-id', 'user-name', 'email'].some((flag) => values[flag] !== undefined);
  if (subjectGiven && positionals.length > 0)
    throw new UsageError('erase one termination (ID) or a subject (--external-id, --email, ...), not both');
  const client = clientFor(values, io);
  const signed = subjectGiven
    ? await client.request<SignedReceipt>('POST', '/erasures', { body: { subject: subjectFrom(values), reason } })
    : await client.request<SignedReceipt>('POST', `/terminations/${encodeURIComponent(onePositional(positionals, 'ID'))}/erasure`, {
        body: { reason },
      });
  const file = str(values, 'receipt');
  if (file) writeFileSync(file, `${JSON.stringify(signed, null, 2)}\n`, { flag: 'wx' });
  if (values.json) return printJson(io, signed);
  const { receipt } = signed;
  for (const t of receipt.terminations) io.out.write(`termination ${t.terminationId} erased: its subject is now ${t.pseudonym}\n`);
  io.out.write(`erasure ${receipt.erasureId}: receipt signed with key ${signed.signature.keyId}${file ? `, written to ${file}` : ''}\n`);
  return EXIT.ok;
}

export async function erasureKey({ values, positionals, io }: CommandInput): Promise<number> {
  noPositionals(positionals);
  const key = await clientFor(values, io).request<ErasurePublicKey>('GET', '/erasure-key');
  if (values.json) return printJson(io, key);
  io.out.write(key.publicKeyPem.endsWith('\n') ? key.publicKeyPem : `${key.publicKeyPem}\n`);
  return EXIT.ok;
}

/** Exit 0 when the receipt verifies, 1 when it does not: a script can rely on the code. */
export async function verifyReceiptFile({ values, positionals, io }: CommandInput): Promise<number> {
  const file = onePositional(positionals, 'FILE');
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`${file}: not a JSON file (${error instanceof Error ? error.message : String(error)})`);
  }
  const keyFile = str(values, 'key');
  const publicKeyPem = keyFile
    ? readFileSync(keyFile, 'utf8')
    : (await clientFor(values, io).request<ErasurePublicKey>('GET', '/erasure-key')).publicKeyPem;
  const check = verifyReceipt(document, publicKeyPem);
  if (values.json) return printJson(io, check, check.valid ? EXIT.ok : EXIT.failed);
  if (check.valid) {
    io.out.write(`${file}: valid erasure receipt, signed with key ${check.keyId}\n`);
    return EXIT.ok;
  }
  io.err.write(`${file}: NOT valid: ${check.why}\n`);
  return EXIT.failed;
}
