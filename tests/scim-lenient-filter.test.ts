/**
 * Filter values as real IdPs and Microsoft's SCIM validator send them (issue #26): unquoted
 * strings and date-times read where the grammar leaves no doubt, attribute names in any
 * case, date-times compared by instant. Each leniency is documented in docs/scim.md.
 */
import SCIMMY from 'scimmy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidFilterError, matchesFilter, parseFilter, schemaResolver, type AttributeResolver } from '../src/intake/scim/filter.ts';
import { declareScimResources } from '../src/intake/scim/resources.ts';
import { USER_SCHEMA, startScimDaemon, type ScimTestDaemon } from './helpers/scim-daemon.ts';

let resolve: AttributeResolver;
beforeAll(() => {
  declareScimResources();
  resolve = schemaResolver(SCIMMY.Schemas.User.definition);
});

const employee = {
  id: 'E1',
  userName: 'OLeary@Example.com',
  active: true,
  title: '123',
  nickName: 'true',
  name: { givenName: 'Pat', familyName: 'Employee' },
  emails: [{ value: 'oleary@work.example', type: 'work', primary: true }],
  meta: { created: '2015-10-10T21:38:21.861Z', lastModified: '2016-01-01T00:00:00Z' },
};

const matches = (expression: string) => matchesFilter(parseFilter(expression, resolve), employee);

describe('lenient filter values', () => {
  it.each([
    // Microsoft's validator: unquoted strings and date-times.
    ['userName sw O', true],
    ['userName sw X', false],
    ['name.familyName eq Employee and (emails.type eq work or title eq x)', true],
    ['meta.created gt 2015-10-10T14:38:21.8617979-07:00', false],
    ['meta.created ge 2015-10-10T14:38:21.861-07:00', true],
    ['meta.created lt 2015-10-11', true],
    // A number or a boolean word against a string attribute is the text it spells.
    ['title eq 123', true],
    ['nickName eq true', true],
    ['nickName eq TRUE', true],
    // Attribute names and sub-attributes in any case, operators too.
    ['NAME.FAMILYNAME EQ "employee"', true],
    ['Emails[TYPE eq "work" and VALUE sw "oleary"]', true],
    ['META.LASTMODIFIED gt 2015-12-31T23:59:59Z', true],
    // Date-times compare by instant, whatever their offset or precision.
    ['meta.created eq "2015-10-10T14:38:21.861-07:00"', true],
    ['meta.lastModified eq 2016-01-01T01:00:00+01:00', true],
  ])('%s -> %s', (expression, expected) => {
    expect(matches(expression)).toBe(expected);
  });

  it.each([
    ['active eq yes', 'a boolean attribute takes true or false only'],
    ['meta.created gt not-a-date', 'a date-time that is no instant'],
    ['meta.created gt 5/5/2020', 'a bare word Date.parse reads, but no xsd:dateTime'],
    ['userName eq', 'no value'],
    ['userName eq )', 'punctuation is never a value'],
    ['userName eq O extra', 'one word only: a second one is trailing'],
  ])('still refuses "%s" (%s)', (expression) => {
    expect(() => parseFilter(expression, resolve)).toThrow(InvalidFilterError);
  });
});

describe('lenient filters over HTTP', () => {
  let d: ScimTestDaemon;
  beforeAll(async () => {
    d = await startScimDaemon();
  });
  afterAll(async () => {
    await d?.stop();
  });

  it("answers the three filters Microsoft's validator sends unquoted", async () => {
    const created = await d.scim('POST', '/Users', {
      body: {
        schemas: [USER_SCHEMA],
        userName: 'OLeary@example.com',
        name: { familyName: 'Employee' },
        emails: [{ value: 'o@x.example', type: 'work' }],
      },
    });
    expect(created.status, created.text).toBe(201);
    for (const expression of [
      'userName sw O',
      'meta.created gt 2015-10-10T14:38:21.8617979-07:00',
      'name.familyName eq Employee and (emails.type eq work or userName eq x)',
    ]) {
      const answer = await d.scim('GET', `/Users?filter=${encodeURIComponent(expression)}`);
      expect(answer.status, `${expression}: ${answer.text}`).toBe(200);
      expect(
        answer.body.Resources.map((r: any) => r.id),
        expression,
      ).toEqual([created.body.id]);
    }
  });
});
