/**
 * SigV4 as IAM checks it, for the emulator: the `Authorization` header is parsed, the
 * signature recomputed with @smithy/signature-v4 over the same method, path, query, signed
 * headers and body with the secret the sandbox knows for that access key, and the two
 * compared in constant time. What IAM answers otherwise: no header (403
 * MissingAuthenticationToken), an unknown key (403 InvalidClientTokenId), a scope for
 * another service or region, a signing time more than 15 minutes off, or a different
 * signature (403 SignatureDoesNotMatch).
 */
import { createHash, createHmac, timingSafeEqual, type Hash } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

/** What the signer hands a hash: text, bytes or a buffer (`SourceData` of @smithy/types). */
type SourceData = string | ArrayBuffer | ArrayBufferView;

const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/** The hash the signer takes: SHA-256, keyed (HMAC) when given a secret. */
export class Sha256 {
  private readonly hash: Hash | ReturnType<typeof createHmac>;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
  }
}

export interface SignedRequest {
  method: string;
  /** `127.0.0.1:PORT`, as the Host header carried it. */
  host: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export type SignatureCheck =
  | { ok: true; accessKeyId: string }
  | {
      ok: false;
      code: 'MissingAuthenticationToken' | 'InvalidClientTokenId' | 'SignatureDoesNotMatch' | 'IncompleteSignature';
      message: string;
    };

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([A-Z0-9]{16,128})\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
/** How far a request's signing time may be from the server's clock. */
const MAX_SKEW_MS = 15 * 60_000;

function header(headers: SignedRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** `20261207T230047Z` as a Date; null when malformed. */
function amzDate(value: string | undefined): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? '');
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1) as [string, string, string, string, string, string];
  const date = new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}Z`);
  return Number.isNaN(date.getTime()) ? null : date;
}

/**
 * Checks one request against the sandbox's keys (`secrets`: access key id → secret). IAM
 * is global: requests are signed for `us-east-1` and service `iam`.
 */
export async function checkSignature(
  request: SignedRequest,
  secrets: ReadonlyMap<string, string>,
  nowMs = Date.now(),
): Promise<SignatureCheck> {
  const authorization = header(request.headers, 'authorization');
  if (!authorization) return { ok: false, code: 'MissingAuthenticationToken', message: 'Request is missing Authentication Token' };
  const parsed = AUTHORIZATION.exec(authorization);
  if (!parsed) {
    return {
      ok: false,
      code: 'IncompleteSignature',
      message: 'Authorization header requires Credential, SignedHeaders and Signature parameters.',
    };
  }
  const [, accessKeyId, shortDate, region, service, signedHeaderList, signature] = parsed as unknown as string[];
  const secret = secrets.get(accessKeyId!);
  if (secret === undefined)
    return { ok: false, code: 'InvalidClientTokenId', message: 'The security token included in the request is invalid.' };
  if (service !== 'iam' || region !== 'us-east-1') {
    return {
      ok: false,
      code: 'SignatureDoesNotMatch',
      message: `Credential should be scoped to a valid region, not '${String(region)}'. `,
    };
  }
  const signedAt = amzDate(header(request.headers, 'x-amz-date'));
  if (!signedAt?.toISOString().replace(/-/g, '').startsWith(shortDate!)) {
    return { ok: false, code: 'IncompleteSignature', message: 'Date must be in ISO-8601 basic format and match the credential scope.' };
  }
  if (Math.abs(nowMs - signedAt.getTime()) > MAX_SKEW_MS) {
    return {
      ok: false,
      code: 'SignatureDoesNotMatch',
      message: 'Signature expired: the signing time is more than 15 minutes from the current time.',
    };
  }
  // The signer takes a sent x-amz-content-sha256 as the payload's hash: compared with the body
  // received first, or a body changed after signing would pass under the old hash.
  const claimed = header(request.headers, 'x-amz-content-sha256');
  if (claimed !== undefined && claimed !== createHash('sha256').update(request.body).digest('hex')) {
    return {
      ok: false,
      code: 'SignatureDoesNotMatch',
      message: 'The provided x-amz-content-sha256 header does not match what was computed.',
    };
  }
  const names = signedHeaderList!.split(';');
  if (!names.includes('host')) return { ok: false, code: 'SignatureDoesNotMatch', message: "'Host' must be a signed header." };
  // Only the headers the client signed, with the values received; the signer adds x-amz-date itself.
  const headers: Record<string, string> = {};
  for (const name of names) {
    if (name === 'x-amz-date') continue;
    headers[name] = name === 'host' ? request.host : (header(request.headers, name) ?? '');
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId: accessKeyId!, secretAccessKey: secret },
    region: 'us-east-1',
    service: 'iam',
    sha256: Sha256,
    // Sign exactly what the client signed: add no x-amz-content-sha256 of our own.
    applyChecksum: false,
  });
  const [hostname, port] = request.host.split(':');
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: 'http:',
      hostname: hostname ?? '',
      port: port ? Number(port) : undefined,
      path: request.path,
      query: request.query,
      headers,
      body: request.body,
    },
    { signingDate: signedAt, signableHeaders: new Set(names) },
  );
  const expected = /Signature=([0-9a-f]{64})$/.exec(String(signed.headers.authorization))?.[1] ?? '';
  const match = expected.length === 64 && timingSafeEqual(Buffer.from(expected), Buffer.from(signature!));
  if (!match) {
    return {
      ok: false,
      code: 'SignatureDoesNotMatch',
      message:
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    };
  }
  return { ok: true, accessKeyId: accessKeyId! };
}
