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
});
