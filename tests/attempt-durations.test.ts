import { describe, expect, it } from 'vitest';
import { AttemptDurations } from '../src/engine/attempt-durations.ts';

const item = (provider: string, action: string) => ({ task: { provider, action } });

describe('AttemptDurations', () => {
  it('is 0 for an action not seen, then follows a moving average of the durations recorded', () => {
    const durations = new AttemptDurations();
    expect(durations.expected('okta', 'disable_account')).toBe(0);
    durations.record('okta', 'disable_account', 100);
    expect(durations.expected('okta', 'disable_account')).toBe(100);
    durations.record('okta', 'disable_account', 200);
    expect(durations.expected('okta', 'disable_account')).toBe(120);
    // Per provider and action.
    expect(durations.expected('okta', 'revoke_sessions')).toBe(0);
    expect(durations.expected('google', 'disable_account')).toBe(0);
  });

  it('orders longest first and keeps the given order among equals and unseen actions', () => {
    const durations = new AttemptDurations();
    durations.record('brivo', 'deactivate_badge', 210);
    durations.record('okta', 'revoke_sessions', 120);
    const items = [
      item('okta', 'revoke_sessions'),
      item('scim', 'disable_account'),
      item('google', 'revoke_sessions'),
      item('brivo', 'deactivate_badge'),
      item('okta', 'revoke_sessions'),
    ];
    expect(durations.longestFirst(items).map((i) => i.task.provider)).toEqual(['brivo', 'okta', 'okta', 'scim', 'google']);
    // The input is left as it was.
    expect(items[0]!.task.provider).toBe('okta');
  });
});
