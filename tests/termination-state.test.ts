/** A termination's state derived from its tasks (src/domain/termination-state.ts), without a store. */
import { describe, expect, it } from 'vitest';
import { deriveTerminationState, type SettlingTask } from '../src/domain/termination-state.ts';

const task = (id: string, state: SettlingTask['state'], more: Partial<SettlingTask> = {}): SettlingTask => ({
  id,
  state,
  critical: false,
  provider: 'okta',
  action: 'remove_groups',
  dependsOnIds: [],
  ...more,
});

describe('deriveTerminationState', () => {
  it('stays running while a task can still move, even with a failed one beside it', () => {
    expect(deriveTerminationState([task('a', 'failed'), task('b', 'pending')]).state).toBe('running');
    expect(deriveTerminationState([task('a', 'failed'), task('b', 'running')]).state).toBe('running');
  });

  it('is failed when what is left waits behind the failure, through dependencies and the destructive rule', () => {
    const tasks = [
      task('suspend', 'failed', { critical: true, action: 'disable_account' }),
      task('groups', 'pending', { dependsOnIds: ['suspend'] }),
      task('later', 'pending', { dependsOnIds: ['groups'] }),
      task('revoke', 'succeeded', { critical: true, action: 'revoke_sessions' }),
      task('delete', 'pending', { action: 'delete_account' }),
    ];
    expect(deriveTerminationState(tasks)).toEqual({ state: 'failed', revoked: false });
  });

  it('keeps a delete at another provider live: the destructive rule is per provider', () => {
    const tasks = [task('suspend', 'failed'), task('google-delete', 'pending', { provider: 'google', action: 'delete_account' })];
    expect(deriveTerminationState(tasks).state).toBe('running');
  });

  it('does not hold a delete behind another destructive step at its provider that failed', () => {
    const tasks = [task('delete', 'failed', { action: 'delete_account' }), task('delete-2', 'pending', { action: 'delete_account' })];
    expect(deriveTerminationState(tasks).state).toBe('running');
  });

  it('completes with waivers when a waiver closed it, and a waived critical task is no proof of revocation', () => {
    const tasks = [
      task('revoke', 'waived', { critical: true }),
      task('disable', 'succeeded', { critical: true }),
      task('delete', 'succeeded', { action: 'delete_account' }),
    ];
    expect(deriveTerminationState(tasks)).toEqual({ state: 'completed_with_waivers', revoked: false });
    expect(
      deriveTerminationState([task('revoke', 'skipped', { critical: true }), task('disable', 'succeeded', { critical: true })]),
    ).toEqual({ state: 'completed', revoked: true });
  });
});
