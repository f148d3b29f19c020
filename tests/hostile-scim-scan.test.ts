/**
 * A SCIM filter that no index narrows is evaluated over up to 10,000 directory users
 * (issue 23, point 8: hostile input never stalls). The scan reads and filters a chunk at a
 * time and gives the event loop a turn between chunks: before, the whole directory was
 * read and filtered in one synchronous stretch that held the process for 0.4 s with one
 * term and 1.2 s with fifty.
 *
 * The daemon runs in this process, so the event-loop delay measured here is the daemon's.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newId } from '../src/domain/ids.ts';
import { startHostileDaemon, type HostileDaemon } from './helpers/hostile-daemon.ts';

const USERS = 9_900;
let h: HostileDaemon;

beforeAll(async () => {
  h = await startHostileDaemon();
  await Promise.all(
    Array.from({ length: USERS }, (_, i) => {
      const userName = `user${i}@example.com`;
      const attributes = {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName,
        active: true,
        emails: [{ value: userName, type: 'work' }],
      };
      return h.daemon.store.directory.createUser(newId(), { userName, externalId: `E${i}`, managerId: null, active: true, attributes });
    }),
  );
}, 120_000);

afterAll(async () => {
  await h?.stop();
});

it('a 50-term filter scanning 9,900 users answers, and never holds the event loop 50 ms', async () => {
  // As many terms as a filter may have (FILTER_LIMITS.terms): the most work one request can ask for.
  const parts = Array.from({ length: 50 }, (_, i) => `user${i}99@`);
  const filter = parts.map((part) => `emails co "${part}"`).join(' or ');
  const expected = Array.from({ length: USERS }, (_, i) => `user${i}@example.com`).filter((email) =>
    parts.some((part) => email.includes(part)),
  ).length;
  // A stall caused by the code shows in every round; a loaded machine descheduling the
  // process shows in some only: the best of up to twenty rounds (one passing round ends
  // them) must stay under the bound. At load 14 on two cores, five were not enough.
  const rounds: Array<{ maxDelayMs: number; ms: number }> = [];
  while (rounds.length < 20 && !rounds.some((r) => r.maxDelayMs < 50)) {
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    // The histogram records from its second sample on: let it take one before the work starts.
    await new Promise((resolve) => setTimeout(resolve, 15));
    const started = performance.now();
    const answer = await h.send('GET', `/scim/v2/Users?filter=${encodeURIComponent(filter)}&count=5`);
    // The sampling timer of a stalled loop fires late: let it, or the stall is never recorded.
    await new Promise((resolve) => setTimeout(resolve, 20));
    loop.disable();
    expect(loop.count).toBeGreaterThan(0);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json.totalResults).toBe(expected);
    rounds.push({ maxDelayMs: loop.max / 1e6, ms: performance.now() - started });
  }
  console.log(
    `hostile-scim-scan: a 50-term filter over ${USERS} users, per round: ${rounds.map((r) => `${Math.round(r.ms)} ms, event-loop delay max ${r.maxDelayMs.toFixed(1)} ms`).join('; ')}`,
  );
  expect(Math.min(...rounds.map((r) => r.maxDelayMs))).toBeLessThan(50);
}, 120_000);
