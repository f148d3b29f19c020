/**
 * LDAP results turned into the typed errors the engine decides retries from: by result
 * code, never by the server's diagnostic text (which differs between servers and
 * languages). Errors name the operation, the code and what the operator can do; they
 * never carry the bind password or the server's diagnostic message.
 */
import { PermanentError, RateLimitedError, TransientError, VerificationError } from '../contract.ts';
import { LDAP_RESULT, LdapResultError } from './session.ts';

const NAMES = new Map<number, string>(Object.entries(LDAP_RESULT).map(([name, code]) => [code, name]));

/** Codes a later attempt may not meet: the server was busy, down, or out of time. */
const TRANSIENT = new Set<number>([
  LDAP_RESULT.operationsError,
  LDAP_RESULT.timeLimitExceeded,
  LDAP_RESULT.adminLimitExceeded,
  LDAP_RESULT.busy,
  LDAP_RESULT.unavailable,
  // Active Directory also answers policy refusals with 53, but a DC shutting down or not
  // yet replicated answers it too; retries are bounded, and the last error names the code.
  LDAP_RESULT.unwillingToPerform,
  LDAP_RESULT.other,
]);

const ADVICE = new Map<number, string>([
  [LDAP_RESULT.strongAuthRequired, 'the directory refuses a simple bind without encryption: use ldaps:// or tls.startTls'],
  [LDAP_RESULT.confidentialityRequired, 'the directory requires an encrypted connection: use ldaps:// or tls.startTls'],
  [LDAP_RESULT.invalidCredentials, 'check bindDn and bindPassword (expired or locked service account?)'],
  [LDAP_RESULT.insufficientAccessRights, 'grant the service account the rights listed in docs/providers/ldap.md'],
  [LDAP_RESULT.noSuchObject, 'the entry or base DN does not exist: check baseDn, groupsBaseDn and disable.moveToOu'],
  [LDAP_RESULT.constraintViolation, 'the directory refused the value (password policy? schema constraint?)'],
  [
    LDAP_RESULT.objectClassViolation,
    'the change would break the schema (a groupOfNames losing its last member needs another member first)',
  ],
  [LDAP_RESULT.notAllowedOnNonLeaf, 'the entry has child objects: remove them (or delete with a tree-delete tool) first'],
  [LDAP_RESULT.unwillingToPerform, 'the directory refused the operation (policy, or a DC not ready); see its log'],
]);

/** Node's codes for a certificate that does not check out: waiting will not fix them. */
const TLS_REFUSALS =
  /^(ERR_TLS_CERT_ALTNAME_INVALID|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|CERT_SIGNATURE_FAILURE|CERT_UNTRUSTED)$/;

function describeCode(code: number): string {
  return `${NAMES.get(code) ?? 'result'} (${code})`;
}

export function errorForResult(error: LdapResultError): PermanentError | TransientError {
  const advice = ADVICE.get(error.code);
  const message = `LDAP ${error.operation}: ${describeCode(error.code)}${advice ? `: ${advice}` : ''}`;
  return TRANSIENT.has(error.code) ? new TransientError(message) : new PermanentError(message);
}

/**
 * Anything an operation threw, as a typed error: LDAP results by code; a connection that
 * failed, closed or timed out is transient (the write may or may not have happened: every
 * write is read first on the retry).
 */
export function errorForLdap(error: unknown, operation: string): Error {
  // Already decided (a refusal of ours, a read-back that disagrees): passed on as it is.
  if (
    error instanceof PermanentError ||
    error instanceof TransientError ||
    error instanceof VerificationError ||
    error instanceof RateLimitedError
  )
    return error;
  if (error instanceof LdapResultError) return errorForResult(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TLS_REFUSALS.test(code)) {
    return new PermanentError(
      `LDAP ${operation}: the directory's certificate was refused (${code}): check tls.ca (the CA that signed it) and tls.servername`,
    );
  }
  const what = typeof code === 'string' && /^[A-Z_]{2,40}$/.test(code) ? code : error instanceof Error ? error.name : 'failure';
  return new TransientError(`LDAP ${operation}: connection ${what}: the directory was unreachable or did not answer; retrying`);
}
