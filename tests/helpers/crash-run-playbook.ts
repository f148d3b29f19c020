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

export interface WriteAccounting {
  /** Expected writes that the sandboxes never saw. */
  missing: string[];
  /** Writes beyond one per task that no lost lease explains, or that no task accounts for. */
  unexpected: string[];
  /** Repeated writes of tasks caught in flight (a kill or a lost lease), all of idempotent operations. */
  duplicates: Array<{ operation: string; taskId: string; extra: number }>;
}

/**
 * Matches the sandboxes' write counters (`operation:accountId` → count) against the tasks
 * of a crash or multi-replica run: every task's writes seen exactly once, except repeats of
 * idempotent operations by tasks in `caughtInFlight`.
 */
export function accountWrites(
  /** `account` opened (tests/helpers/sealed-reader.ts). */
  tasks: Array<{ id: string; step_id: string; account: string | null }>,
  writes: Record<'okta' | 'google', Record<string, number>>,
  caughtInFlight: ReadonlySet<string>,
): WriteAccounting {
  const expectedKeys = { okta: new Set<string>(), google: new Set<string>() };
  const result: WriteAccounting = { missing: [], unexpected: [], duplicates: [] };
  for (const task of tasks) {
    const step = CRASH_RUN_STEPS.find((s) => s.id === task.step_id)!;
    const accountId = task.account ? (JSON.parse(task.account) as { id?: string }).id : undefined;
    if (!accountId) {
      result.missing.push(`${task.step_id} of task ${task.id}: no resolved account`);
      continue;
    }
    for (const [operation, once] of Object.entries(step.writes)) {
      const key = `${operation}:${accountId}`;
      expectedKeys[step.provider].add(key);
      const seen = writes[step.provider][key] ?? 0;
      if (seen < once) result.missing.push(`${step.provider} ${key}: ${seen} write(s), expected ${once}`);
      if (seen <= once) continue;
      if (caughtInFlight.has(task.id) && IDEMPOTENT_OPERATIONS.has(operation)) {
        result.duplicates.push({ operation: `${step.provider} ${operation}`, taskId: task.id, extra: seen - once });
      } else {
        result.unexpected.push(`${step.provider} ${key}: ${seen} writes for task ${task.id} (${task.step_id}), expected ${once}`);
      }
    }
  }
  for (const provider of ['okta', 'google'] as const) {
    for (const key of Object.keys(writes[provider])) {
      if (!expectedKeys[provider].has(key)) result.unexpected.push(`${provider} ${key}: a write no task accounts for`);
    }
  }
  return result;
}
