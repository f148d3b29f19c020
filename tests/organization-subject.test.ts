/** An organization as a subject (issue 28): its key, its bounds at intake, and the CLI flags that name it. */
import { describe, expect, it } from 'vitest';
import { InvalidSubjectError, keysOf, subjectKey } from '../src/domain/subject.ts';
import { subjectSchema, toSubject } from '../src/intake/termination-schema.ts';
import { subjectFrom } from '../src/cli/admin/common.ts';
import { UsageError } from '../src/cli/io.ts';

const acme = { id: 'acme-42', domains: ['acme.example'] };

describe('subjectKey and keysOf for an organization', () => {
  it('files an organization under org:<id>, whatever else names it', () => {
    expect(subjectKey({ emails: ['it@acme.example'], organization: acme })).toBe('org:acme-42');
    expect(subjectKey({ externalId: 'E1', emails: [], organization: { ...acme, id: '  acme-42 ' } })).toBe('org:acme-42');
  });

  it('lists org:<id> among the keys, so a legal hold can name the organization', () => {
    expect(keysOf({ emails: ['it@acme.example'], organization: acme })).toEqual(['org:acme-42', 'email:it@acme.example']);
  });

  it('refuses an organization without an id', () => {
    expect(() => subjectKey({ emails: [], organization: { id: '  ', domains: ['acme.example'] } })).toThrow(InvalidSubjectError);
  });
});

describe('subjectSchema with an organization', () => {
  it('accepts an organization alone and keeps every field', () => {
    const parsed = subjectSchema.parse({
      organization: {
        id: 'acme-42',
        name: 'Acme',
        domains: ['Acme.Example', 'eu.acme.example'],
        tenants: { okta: '00g1acme', scim: 'Acme Corp', entra: 'tid-1' },
        contacts: ['it@acme.example'],
      },
    });
    expect(toSubject(parsed)).toEqual({
      emails: [],
      displayName: 'Acme',
      organization: {
        id: 'acme-42',
        name: 'Acme',
        domains: ['acme.example', 'eu.acme.example'],
        tenants: { okta: '00g1acme', scim: 'Acme Corp', entra: 'tid-1' },
        contacts: ['it@acme.example'],
      },
    });
  });

  it.each([
    ['no domain', { id: 'a', domains: [] }],
    ['a domain that is not a host name', { id: 'a', domains: ['acme'] }],
    ['a domain with a path', { id: 'a', domains: ['acme.example/x'] }],
    ['a label ending in a hyphen', { id: 'a', domains: ['acme-.example'] }],
    ['a domain twice', { id: 'a', domains: ['acme.example', 'ACME.example'] }],
    ['more than 50 domains', { id: 'a', domains: Array.from({ length: 51 }, (_, i) => `d${i}.example`) }],
    ['a tenant key with a quote', { id: 'a', domains: ['acme.example'], tenants: { okta: 'x" or 1 eq 1' } }],
    ['a tenant at an unknown provider', { id: 'a', domains: ['acme.example'], tenants: { google: 'x' } }],
    ['a contact that is not an email', { id: 'a', domains: ['acme.example'], contacts: ['nobody'] }],
    ['an unknown field', { id: 'a', domains: ['acme.example'], members: ['x@acme.example'] }],
    ['an id too long', { id: 'x'.repeat(257), domains: ['acme.example'] }],
    ['a domain list that is not an array', { id: 'a', domains: 'acme.example' }],
  ])('refuses %s', (_name, organization) => {
    expect(subjectSchema.safeParse({ organization }).success).toBe(false);
  });
});

describe('the CLI flags of an organization', () => {
  it('builds the organization the admin API takes', () => {
    expect(
      subjectFrom({
        organization: 'acme-42',
        domain: ['acme.example'],
        contact: ['it@acme.example'],
        'okta-group': 'Acme',
        'scim-organization': 'Acme Corp',
      }),
    ).toEqual({
      emails: [],
      organization: {
        id: 'acme-42',
        domains: ['acme.example'],
        contacts: ['it@acme.example'],
        tenants: { okta: 'Acme', scim: 'Acme Corp' },
      },
    });
  });

  it('wants a --domain with --organization, and --organization with its details', () => {
    expect(() => subjectFrom({ organization: 'acme-42' })).toThrow(UsageError);
    expect(() => subjectFrom({ 'user-name': 'ada', domain: ['acme.example'] })).toThrow(/--domain goes with --organization/);
  });
});
