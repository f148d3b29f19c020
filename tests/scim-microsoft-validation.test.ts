/**
 * Microsoft's SCIM validation requests (issue #26): every user and group request of the
 * collection in AzureAD/SCIMReferenceCode, in its order, with ids chained as it chains them
 * (create, read, patch, replace, delete), replayed against a whole daemon. Each answer must
 * pass the collection's checks (and those of the reference code's newer Playwright tests
 * for the same requests). Where the checks demand what RFC 7643/7644 or Okta's documentation
 * do not, the fixture gives the reason and the checks of OUR documented answer, which the
 * answer must pass instead; the test also proves the collection's own check fails on it, so
 * a difference that goes away is noticed, and docs/scim.md's table must name the request.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScimDaemon, type ScimTestDaemon } from './helpers/scim-daemon.ts';
import { failedChecks, resolveBody, saveFrom, substitute, type ReplayAnswer, type ReplayFixture } from './helpers/scim-replay.ts';

const fixture = JSON.parse(readFileSync(new URL('fixtures/scim/microsoft-validation.json', import.meta.url), 'utf8')) as ReplayFixture;
const docs = readFileSync(new URL('../docs/scim.md', import.meta.url), 'utf8');
const differencesSection = docs.slice(docs.indexOf("## Microsoft's SCIM validator"));

let d: ScimTestDaemon;
const vars = new Map<string, string>();

beforeAll(async () => {
  d = await startScimDaemon();
});
afterAll(async () => {
  await d?.stop();
});

describe("Microsoft's SCIM validation collection, replayed in order", () => {
  it.each(fixture.steps.map((step, index) => [`${index + 1}. ${step.folder ? `${step.folder}: ` : ''}${step.name}`, step] as const))(
    '%s',
    async (_title, step) => {
      const { method, path, body, raw } = step.request;
      const sent = body === undefined ? undefined : substitute(resolveBody(body, fixture.bodies), vars);
      // As the collection sends them: application/json, not application/scim+json.
      const answer: ReplayAnswer = await d.scim(method, substitute(path, vars), {
        ...(sent !== undefined ? { body: sent } : raw !== undefined ? { raw } : {}),
        contentType: 'application/json',
      });
      if (step.ours) {
        expect(failedChecks(step.ours.expect, answer, vars), answer.text).toEqual([]);
        // Still a difference: the collection's own check fails on our answer.
        expect(failedChecks(step.expect, answer, vars), `${step.name}: no longer differs; drop "ours"`).not.toEqual([]);
        expect(differencesSection, `docs/scim.md lists *${step.name}*`).toContain(`*${step.name}*`);
      } else {
        expect(failedChecks(step.expect, answer, vars), answer.text).toEqual([]);
      }
      saveFrom(step, answer, vars);
    },
  );
});
