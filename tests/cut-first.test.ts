/**
 * The cut first (issue 32, src/engine/cut-first.ts): a pass starts its critical attempts
 * first, and a non-critical step that waits for another step is held while critical
 * attempts run, for a bounded time; a step that waits for nothing (a door that needs the
 * live account) is never held, and a held step is never lost, not even on shutdown.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Task } from '../src/domain/types.ts';
import { CutFirst, criticalFirst, holdsForCut } from '../src/engine/cut-first.ts';
import { FakeProvider } from './helpers/fake-provider.ts';
import { allIn, createHarness, type Harness } from './helpers/engine-harness.ts';
import { pollUntil } from './helpers/poll.ts';

const subject = (n: string) => ({ userName: `${n}@example.com`, emails: [`${n}@example.com`] });

let harness: Harness | null = null;
afterEach(async () => {
  vi.useRealTimers();
  await harness?.close();
  harness = null;
});

/** An identity provider with a fast disable and doors, and a badge system whose critical step takes `badgeMs`. */
function providers(badgeMs: number) {
  const idp = new FakeProvider('idp', ['disable_account', 'remove_mfa', 'clear_recovery']);
  const badge = new FakeProvider('badge', ['deactivate_badge']).script('deactivate_badge', { kind: 'hang', ms: badgeMs });
  return { idp, badge };
}

const doorsPlaybook = {
  default: {
    steps: [
      { id: 'disable', provider: 'idp', action: 'disable_account' },
      // Needs the live account: waits for nothing, races the disable.
      { id: 'recovery', provider: 'idp', action: 'clear_recovery' },
      // Works on a disabled account: waits for the disable.
      { id: 'mfa', provider: 'idp', action: 'remove_mfa', after: ['disable'] },
      { id: 'badge', provider: 'badge', action: 'deactivate_badge' },
    ],
  },
};

const firstExecute = (p: FakeProvider, action: string) => p.calls.find((c) => c.action === action && c.phase === 'execute')?.at;
const lastVerify = (p: FakeProvider, action: string) => p.calls.filter((c) => c.action === action && c.phase === 'verify').at(-1)?.at;

describe('the cut first, in the engine', () => {
  it("starts a pass's critical attempts before its other ones, whatever the claim order", async () => {
    // The door's provider comes first, so its task is claimed first.
    const door = new FakeProvider('door', ['remove_mfa']);
    const cut = new FakeProvider('cut', ['disable_account']);
    harness = await createHarness([door, cut], {
      playbooks: {
        default: {
          steps: [
            { id: 'mfa', provider: 'door', action: 'remove_mfa' },
            { id: 'disable', provider: 'cut', action: 'disable_account' },
          ],
        },
      },
    });
    const started: string[] = [];
    harness.events.on('task:started', (e) => started.push(e.action));
    harness.engine().start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('order'), actor: 'test' });
    await harness.waitForTasks(termination.id, allIn('succeeded'));
    expect(started).toEqual(['disable_account', 'remove_mfa']);
  });

  it('holds a step that waits for the disable until the last critical attempt ends; a step that waits for nothing runs beside the cut', async () => {
    const { idp, badge } = providers(400);
    harness = await createHarness([idp, badge], { playbooks: doorsPlaybook });
    harness.engine().start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('held'), actor: 'test' });
    const tasks = await harness.waitForTasks(termination.id, allIn('succeeded'));
    expect(tasks).toHaveLength(4);
    // The disable was verified long before the badge: without the hold the door would start then.
    expect(lastVerify(idp, 'disable_account')!).toBeLessThan(lastVerify(badge, 'deactivate_badge')! - 200);
    expect(firstExecute(idp, 'remove_mfa')!).toBeGreaterThanOrEqual(lastVerify(badge, 'deactivate_badge')!);
    // The door that needs the live account was not held: it ran while the badge's step did.
    expect(firstExecute(idp, 'clear_recovery')!).toBeLessThan(firstExecute(badge, 'deactivate_badge')! + 200);
    const done = await harness.store.getTermination(termination.id);
    expect(done?.state).toBe('completed');
  });

  it('holds a step at most cutHoldMaxMs: a long cut elsewhere delays a door, never starves it', async () => {
    const { idp, badge } = providers(1500);
    harness = await createHarness([idp, badge], { playbooks: doorsPlaybook });
    harness.engine({ cutHoldMaxMs: 100 }).start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('bounded'), actor: 'test' });
    await harness.waitForTasks(termination.id, allIn('succeeded'));
    const door = firstExecute(idp, 'remove_mfa')!;
    expect(door).toBeGreaterThanOrEqual(lastVerify(idp, 'disable_account')! + 90);
    expect(door).toBeLessThan(lastVerify(badge, 'deactivate_badge')! - 500);
  });

  it('on shutdown gives a held step back to the queue unrun, without using an attempt, and another worker runs it', async () => {
    const { idp, badge } = providers(3000);
    harness = await createHarness([idp, badge], { playbooks: doorsPlaybook });
    const engine = harness.engine({ cutHoldMaxMs: 60_000, shutdownGrace: 50 });
    engine.start();
    const { termination } = await harness.service.submit({ source: 'admin', subject: subject('shutdown'), actor: 'test' });
    // Claimed (running in the store) but held: the badge's cut is still in flight.
    await pollUntil(
      async () => (await harness!.store.listTasks(termination.id)).find((t) => t.stepId === 'mfa')?.state === 'running',
      () => 'the door was never claimed',
      10_000,
    );
    await engine.stop();
    const mfa = (await harness.store.listTasks(termination.id)).find((t) => t.stepId === 'mfa')!;
    expect(mfa.state).toBe('pending');
    expect(mfa.leaseOwner).toBeNull();
    expect(mfa.attempts).toBe(0);
    expect(idp.executions('remove_mfa')).toBe(0);
    badge.script('deactivate_badge');
    harness.engine({ workerId: 'next' }).start();
    await harness.waitForTasks(termination.id, allIn('succeeded'));
    expect(idp.executions('remove_mfa')).toBe(1);
  });
});

const task = (id: string, critical: boolean, dependsOn: string[] = []) => ({ id, critical, dependsOn }) as unknown as Task;

describe('CutFirst', () => {
  it('holds only steps that are not critical and wait for another step', () => {
    expect(holdsForCut({ critical: false, dependsOn: ['disable'] })).toBe(true);
    expect(holdsForCut({ critical: false, dependsOn: [] })).toBe(false);
    expect(holdsForCut({ critical: true, dependsOn: ['other'] })).toBe(false);
  });

  it('orders critical first and keeps the order within each group', () => {
    const items = [task('a', false), task('b', true), task('c', false), task('d', true)].map((t) => ({ task: t }));
    expect(criticalFirst(items).map((i) => i.task.id)).toEqual(['b', 'd', 'a', 'c']);
  });

  it('admits at once with no critical attempt in flight, or a step that waits for nothing', () => {
    const cut = new CutFirst(1000);
    expect(cut.admit(task('door', false, ['disable']))).toBeNull();
    cut.criticalStarted();
    expect(cut.admit(task('racing', false))).toBeNull();
    expect(cut.admit(task('critical', true, ['x']))).toBeNull();
  });

  it('releases the held steps when the last critical attempt ends, in claim order', async () => {
    const cut = new CutFirst(60_000);
    cut.criticalStarted();
    cut.criticalStarted();
    const order: string[] = [];
    const first = cut.admit(task('first', false, ['disable']))!.then((ok) => order.push(`first:${ok}`));
    const second = cut.admit(task('second', false, ['disable']))!.then((ok) => order.push(`second:${ok}`));
    cut.criticalFinished();
    await Promise.resolve();
    expect(order).toEqual([]);
    expect(cut.holding).toBe(2);
    cut.criticalFinished();
    await Promise.all([first, second]);
    expect(order).toEqual(['first:true', 'second:true']);
    expect(cut.holding).toBe(0);
  });

  it('releases a held step after the bound even while the cut still runs', async () => {
    vi.useFakeTimers();
    const cut = new CutFirst(250);
    cut.criticalStarted();
    let admitted: boolean | null = null;
    void cut.admit(task('door', false, ['disable']))!.then((ok) => (admitted = ok));
    await vi.advanceTimersByTimeAsync(249);
    expect(admitted).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(admitted).toBe(true);
    expect(cut.criticalInFlight).toBe(1);
  });

  it('drops the held steps on shutdown: answered false and handed back', async () => {
    const cut = new CutFirst(60_000);
    cut.criticalStarted();
    const held = cut.admit(task('door', false, ['disable']))!;
    expect(cut.drop().map((t) => t.id)).toEqual(['door']);
    await expect(held).resolves.toBe(false);
    expect(cut.holding).toBe(0);
  });
});
