/**
 * SCIM filter expressions for the three lookups (RFC 7644 section 3.4.2.2). A filter
 * value is a JSON string literal in SCIM's grammar, so JSON.stringify is exactly the
 * escaping it needs: quotes, backslashes and control characters cannot end the literal
 * early, and a value such as `x" or userName pr "` stays one string instead of widening
 * the filter to every user.
 */
import type { ScimConfig } from './config.ts';

export type Lookup = ScimConfig['lookup'];
export type EmailFilter = ScimConfig['emailFilter'];

/** The value as a SCIM string literal, quotes included. */
export function scimString(value: string): string {
  return JSON.stringify(value);
}

export function lookupFilter(lookup: Lookup, value: string, emailFilter: EmailFilter = 'emails.value'): string {
  switch (lookup) {
    case 'userName':
      return `userName eq ${scimString(value)}`;
    case 'externalId':
      return `externalId eq ${scimString(value)}`;
    case 'email':
      return emailFilter === 'emails[value]' ? `emails[value eq ${scimString(value)}]` : `emails.value eq ${scimString(value)}`;
  }
}
