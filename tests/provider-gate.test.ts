import { describe, expect, it } from 'vitest';
import { ProviderGate } from '../src/engine/provider-gate.ts';

describe('ProviderGate', () => {
  it('has no room while paused, and room again when its resume timer fires even if the wall clock lags behind the timer', async () => {
    // The wall clock stands still: the pause would never be over by Date.now() alone.
    const frozen = Date.now();
    let resumedWith: number | null = null;
    const gate = new ProviderGate(
      'idp',
      { concurrency: 3 },
      () => (resumedWith = gate.capacity()),
      () => frozen,
    );
    gate.pause(20);
    expect(gate.capacity()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 60));
    // The scheduling pass the resume triggers must see the room, or it sleeps until the idle re-check.
    expect(resumedWith).toBe(3);
    expect(gate.capacity()).toBe(3);
    gate.close();
  });

  it('starts queued critical work before queued other work, each in the order handed in', async () => {
    const gate = new ProviderGate('idp', { concurrency: 1 }, () => undefined);
    const order: string[] = [];
    let unblock!: () => void;
    const first = gate.run('first', () => new Promise<void>((resolve) => (unblock = resolve)));
    const queued = [
      gate.run('door-1', async () => void order.push('door-1')),
      gate.run('cut-1', async () => void order.push('cut-1'), true),
      gate.run('door-2', async () => void order.push('door-2')),
      gate.run('cut-2', async () => void order.push('cut-2'), true),
    ];
    unblock();
    await Promise.all([first, ...queued]);
    expect(order).toEqual(['cut-1', 'cut-2', 'door-1', 'door-2']);
    gate.close();
  });
});
