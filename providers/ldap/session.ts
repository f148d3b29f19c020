/**
 * The few LDAP operations the adapter needs, as one small interface. Production speaks
 * LDAP through ldapts (`ldapts-session.ts`); the sandbox's emulated directory is reached
 * through the same interface (`sandbox-session.ts`), so the adapter's logic is the same
 * code in both and the real-server tests prove the LDAP side.
 */

/**
 * A search filter as data, not text: each value travels as a filter value (BER-encoded by
 * ldapts), so a subject's name can never change the filter's shape.
 */
export type LdapFilter =
  | { and: LdapFilter[] }
  | { or: LdapFilter[] }
  /** Equality; `binary` values are base64 of the bytes to match (objectGUID). */
  | { equals: string; value: string; binary?: boolean }
  /** The attribute is present: `(objectClass=*)` matches any entry. */
  | { present: string };

export interface LdapEntry {
  dn: string;
  /** Attribute names in lower case; binary attributes asked for as such are base64. */
  attributes: Record<string, string[]>;
}

export interface LdapChange {
  operation: 'add' | 'delete' | 'replace';
  attribute: string;
  values: string[];
  /** The values are base64 of bytes to send as they are (AD's unicodePwd). */
  binary?: boolean;
}

export interface LdapSearch {
  base: string;
  scope: 'base' | 'sub';
  filter: LdapFilter;
  attributes: string[];
  /** Of `attributes`, those whose values are bytes. */
  binaryAttributes?: string[];
}

export interface LdapSession {
  search(request: LdapSearch, signal?: AbortSignal): Promise<LdapEntry[]>;
  modify(dn: string, changes: LdapChange[], signal?: AbortSignal): Promise<void>;
  /** Renames within the directory: `newDn` is the whole new DN. */
  modifyDn(dn: string, newDn: string, signal?: AbortSignal): Promise<void>;
  delete(dn: string, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** An LDAP result other than success, by its code (RFC 4511 section 4.1.9). */
export class LdapResultError extends Error {
  constructor(
    readonly code: number,
    readonly operation: string,
  ) {
    super(`LDAP ${operation}: result code ${code}`);
    this.name = 'LdapResultError';
  }
}

/** The result codes the adapter decides on. */
export const LDAP_RESULT = {
  success: 0,
  operationsError: 1,
  timeLimitExceeded: 3,
  sizeLimitExceeded: 4,
  strongAuthRequired: 8,
  adminLimitExceeded: 11,
  confidentialityRequired: 13,
  noSuchAttribute: 16,
  constraintViolation: 19,
  attributeOrValueExists: 20,
  noSuchObject: 32,
  invalidCredentials: 49,
  insufficientAccessRights: 50,
  busy: 51,
  unavailable: 52,
  unwillingToPerform: 53,
  objectClassViolation: 65,
  notAllowedOnNonLeaf: 66,
  entryAlreadyExists: 68,
  other: 80,
} as const;

/** The attribute's values of an entry (names are lower case in `attributes`). */
export function values(entry: LdapEntry, attribute: string): string[] {
  return entry.attributes[attribute.toLowerCase()] ?? [];
}
