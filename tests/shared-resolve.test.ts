import { describe, expect, it } from 'vitest';
import type { AccountRef, ActionContext, Provider } from '../providers/contract.ts';
import type { Termination } from '../src/domain/types.ts';
import { SharedResolves } from '../src/engine/shared-resolve.ts';

/** A provider whose look-ups the test answers by hand, one at a time. */
function manualProvider(name: string) {
  const pending: Array<{ resolve(account: AccountRef | null): void; reject(error: Error): void }> = [];
  let calls = 0;
  const provider = {
    kind: 'manual',
    name,
    actions: {},
    resolve: () => {
      calls += 1;
      return new Promise<AccountRef | null>((resolve, reject) => pending.push({ resolve, reject }));
    },
  } as unknown as Provider;
  return {
    provider,
    calls: () => calls,
    answer: (account: AccountRef | null) => pending.shift()!.resolve(account),
    fail: (error: Error) => pending.shift()!.reject(error),
  };
}

const termination = (id: string) => ({ id, subject: { userName: `${id}@example.com`, emails: [] } }) as unknown as Termination;
const ctx = (signal: AbortSignal = new AbortController().signal) => ({ signal }) as ActionContext;
const tick = () => new Promise((resolve) => setImmediate(resolve));

type Manual = ReturnType<typeof manualProvider>;

/** Looks termination `id` up at `idp`, answers with `account`, and returns what the caller got. */
function answered(shared: SharedResolves, idp: Manual, id: string, account: AccountRef | null): Promise<AccountRef | null> {
  const lookup = shared.resolve(idp.provider, termination(id), ctx());
  idp.answer(account);
  return lookup;
}

describe('SharedResolves', () => {
  it('shares a look-up in flight between the tasks of one termination at one provider', async () => {
    const shared = new SharedResolves();
    const idp = manualProvider('idp');
    const first = shared.resolve(idp.provider, termination('t1'), ctx());
    const second = shared.resolve(idp.provider, termination('t1'), ctx());
    idp.answer({ id: 'u1' });
    expect(await first).toEqual({ id: 'u1' });
    expect(await second).toEqual({ id: 'u1' });
    expect(idp.calls()).toBe(1);
  });

  it('does not share across terminations or providers', async () => {
    const shared = new SharedResolves();
    const a = manualProvider('a');
    const b = manualProvider('b');
    const lookups = [
      shared.resolve(a.provider, termination('t1'), ctx()),
      shared.resolve(a.provider, termination('t2'), ctx()),
      shared.resolve(b.provider, termination('t1'), ctx()),
    ];
    a.answer({ id: 'a1' });
    a.answer({ id: 'a2' });
    b.answer({ id: 'b1' });
    expect(await Promise.all(lookups)).toEqual([{ id: 'a1' }, { id: 'a2' }, { id: 'b1' }]);
    expect([a.calls(), b.calls()]).toEqual([2, 1]);
  });

  it('keeps an account found for a while, then asks again', async () => {
    let now = 0;
    const shared = new SharedResolves(60_000, 100, () => now);
    const idp = manualProvider('idp');
    await answered(shared, idp, 't1', { id: 'u1' });
    now = 59_000;
    expect(await shared.resolve(idp.provider, termination('t1'), ctx())).toEqual({ id: 'u1' });
    expect(idp.calls()).toBe(1);
    now = 60_000;
    expect(await answered(shared, idp, 't1', { id: 'u1-again' })).toEqual({ id: 'u1-again' });
    expect(idp.calls()).toBe(2);
  });

  it('does not keep "no account" or a failure: the next attempt asks again', async () => {
    const shared = new SharedResolves();
    const idp = manualProvider('idp');
    expect(await answered(shared, idp, 't1', null)).toBeNull();
    await tick();
    const failing = shared.resolve(idp.provider, termination('t1'), ctx());
    idp.fail(new Error('503'));
    await expect(failing).rejects.toThrow('503');
    await tick();
    expect(await answered(shared, idp, 't1', { id: 'u1' })).toEqual({ id: 'u1' });
    expect(idp.calls()).toBe(3);
  });

  it('an attempt waiting on a look-up that failed asks for itself, unless its own deadline passed', async () => {
    const shared = new SharedResolves();
    const idp = manualProvider('idp');
    const expired = new AbortController();
    const first = shared.resolve(idp.provider, termination('t1'), ctx());
    const waiting = shared.resolve(idp.provider, termination('t1'), ctx());
    const late = shared.resolve(idp.provider, termination('t1'), ctx(expired.signal));
    expired.abort();
    idp.fail(new Error('deadline of the first attempt'));
    await expect(first).rejects.toThrow('deadline');
    await expect(late).rejects.toThrow('deadline');
    await tick();
    idp.answer({ id: 'u1' });
    expect(await waiting).toEqual({ id: 'u1' });
    expect(idp.calls()).toBe(2);
  });

  it('holds at most maxEntries look-ups, dropping the oldest', async () => {
    const shared = new SharedResolves(60_000, 2);
    const idp = manualProvider('idp');
    for (const id of ['t1', 't2', 't3']) await answered(shared, idp, id, { id: `u-${id}` });
    await answered(shared, idp, 't1', { id: 'u-t1' });
    expect(idp.calls()).toBe(4);
    expect(await shared.resolve(idp.provider, termination('t3'), ctx())).toEqual({ id: 'u-t3' });
    expect(idp.calls()).toBe(4);
  });
});
