/**
 * CAEP `session-revoked` Security Event Tokens (RFC 8417 SETs, signed JWTs): who lost
 * their sessions, when, and why, in the shape SSF receivers (Okta, Google...) expect.
 */
import { createHash } from 'node:crypto';
import { SignJWT, importPKCS8 } from 'jose';
import type { Subject } from '../../src/domain/types.ts';
import { PermanentError } from '../contract.ts';

export const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';

/** The SSF subject identifier: the email when there is one, else the HRIS id as an opaque id. */
export function subjectId(subject: Subject): { format: 'email'; email: string } | { format: 'opaque'; id: string } | null {
  const email = subject.emails[0] ?? (subject.userName?.includes('@') ? subject.userName : undefined);
  if (email) return { format: 'email', email };
  if (subject.externalId) return { format: 'opaque', id: subject.externalId };
  return null;
}

/**
 * The same task and receiver always give the same `jti`, so a retried push is a duplicate
 * the receiver can drop rather than a second event; another task (a second CAEP step of
 * the same termination) gives another `jti`, so it is not dropped as a copy.
 */
export function setId(taskId: string, audience: string): string {
  return createHash('sha256').update(`${taskId}\n${audience}`).digest('base64url').slice(0, 32);
}

type SigningAlg = 'ES256' | 'RS256';

/**
 * The PKCS#8 PEM as a signing key; parsing it costs more CPU than a push, so do it once.
 * A key that does not parse is a configuration error no retry mends.
 */
export async function importSigningKey(key: { pem: string; alg: SigningAlg }): Promise<CryptoKey> {
  try {
    return await importPKCS8(key.pem, key.alg);
  } catch {
    throw new PermanentError(
      `CAEP signingKey.pem is not a PKCS#8 PEM private key for ${key.alg} (${key.alg === 'ES256' ? 'EC P-256' : 'RSA'})`,
    );
  }
}

export async function signSessionRevoked(options: {
  issuer: string;
  audience: string;
  key: { kid: string; alg: SigningAlg };
  privateKey: CryptoKey;
  subject: NonNullable<ReturnType<typeof subjectId>>;
  terminationId: string;
  /** The task pushing the event: its `jti` is derived from it (see setId). */
  taskId: string;
  eventTime: Date;
}): Promise<{ jwt: string; jti: string }> {
  const jti = setId(options.taskId, options.audience);
  const jwt = await new SignJWT({
    txn: options.terminationId,
    sub_id: options.subject,
    events: {
      [SESSION_REVOKED]: {
        event_timestamp: Math.floor(options.eventTime.getTime() / 1000),
        initiating_entity: 'policy',
        reason_admin: { en: 'Offboarding: sessions revoked by deprovisiond' },
      },
    },
  })
    .setProtectedHeader({ alg: options.key.alg, kid: options.key.kid, typ: 'secevent+jwt' })
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt()
    .setJti(jti)
    .sign(options.privateKey);
  return { jwt, jti };
}
