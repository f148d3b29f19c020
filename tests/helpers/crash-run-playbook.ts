/**
 * The playbook of the crash and multi-replica runs and, per step, the writes one execution
 * makes at its sandbox: operation (the sandbox's write-counter name) and how many. An
 * execution after a lost lease may repeat writes only where the operation is idempotent.
 */
export const CRASH_RUN_STEPS = [
  { id: 'okta-revoke', provider: 'okta', action: 'revoke_sessions', writes: { revoke_sessions: 1, revoke_grants: 1 } },
  { id: 'okta-suspend', provider: 'okta', action: 'disable_account', params: { mode: 'suspend' }, writes: { suspend: 1 } },
  { id: 'google-suspend', provider: 'google', action: 'disable_account', after: ['okta-suspend'], writes: { 'users.update': 1 } },
] as const;

/** Doing these again changes nothing (a second suspend of a suspended Okta user is refused, so never counted twice). */
export const IDEMPOTENT_OPERATIONS: ReadonlySet<string> = new Set(['revoke_sessions', 'revoke_grants', 'suspend', 'users.update']);
