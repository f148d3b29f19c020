/**
 * The playbook of the frozen-peer test and the `replicas` benchmark, with the writes one
 * execution of each step makes at its sandbox (operation → count). It mixes idempotent
 * revocations and state writes with the non-idempotent kinds issue 33 names: a lifecycle
 * transition and a delete at Okta, a Drive ownership transfer at Google, a OneDrive invite
 * through Graph.
 */
import type { ReplicaStep } from './replica-cluster.ts';

export const FREEZE_RUN_STEPS: readonly ReplicaStep[] = [
  { id: 'okta-revoke', provider: 'okta', action: 'revoke_sessions', writes: { revoke_sessions: 1, revoke_grants: 1 } },
  { id: 'okta-suspend', provider: 'okta', action: 'disable_account', params: { mode: 'suspend' }, writes: { suspend: 1 } },
  {
    id: 'okta-delete',
    provider: 'okta',
    action: 'delete_account',
    after: ['okta-revoke', 'okta-suspend'],
    writes: { deactivate: 1, delete: 1 },
  },
  { id: 'google-suspend', provider: 'google', action: 'disable_account', writes: { 'users.update': 1 } },
  { id: 'google-transfer', provider: 'google', action: 'transfer_files', after: ['google-suspend'], writes: { 'transfers.insert': 1 } },
  { id: 'graph-revoke', provider: 'microsoft', action: 'revoke_sessions', writes: { revoke_sessions: 1 } },
  { id: 'graph-transfer', provider: 'microsoft', action: 'transfer_files', writes: { grant_drive_access: 1 } },
];
