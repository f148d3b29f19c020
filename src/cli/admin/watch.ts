/**
 * Following a termination until its access is gone: `terminate --wait` and `status --watch`
 * poll the admin API until every critical task is verified (the termination's `revokedAt`
 * is set) or it ends without that (failed, cancelled, a critical task failed), or the time
 * allowed runs out.
 */
import type { AdminClient } from '../client.ts';
import { colorsFor, stateColor } from '../format.ts';
import { UsageError, type CliIo } from '../io.ts';
import type { TerminationDetail } from './answers.ts';

/** How often the API is asked. Default 1s: a revocation takes seconds, and each poll is one indexed read. */
const POLL_MS = 1000;

/** `--timeout`: `90s`, `15m`, `1h`. Default 15m, the time-to-revoke objective. */
export function timeoutMs(value: string | undefined): number {
  if (value === undefined) return 15 * 60_000;
  const match = /^(\d+)(s|m|h)$/.exec(value);
  if (!match) throw new UsageError(`--timeout: expected a duration like 90s, 15m or 1h, got "${value}"`);
  return Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 's' | 'm' | 'h'];
}

const ENDED = ['completed', 'completed_with_waivers', 'failed', 'cancelled'];
/** A critical task failed: access stays open until an operator replays or waives it, though the termination may still run other tasks. */
const criticalFailed = (detail: TerminationDetail) => detail.tasks.some((k) => k.critical && k.state === 'failed');

/** Calls `onPoll` with each answer; resolves with the last one once access is revoked or the termination has ended. */
export async function followTermination(
  client: AdminClient,
  id: string,
  limitMs: number,
  onPoll: (detail: TerminationDetail) => void,
): Promise<{ detail: TerminationDetail; timedOut: boolean }> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const detail = await client.request<TerminationDetail>('GET', `/terminations/${encodeURIComponent(id)}`);
    onPoll(detail);
    const { state, revokedAt } = detail.termination;
    if (revokedAt || ENDED.includes(state) || criticalFailed(detail)) return { detail, timedOut: false };
    if (Date.now() >= deadline) return { detail, timedOut: true };
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** What `--wait` and `--watch` end with: 0 once access is revoked, 1 otherwise, with the reason. */
export function verdict(detail: TerminationDetail, timedOut: boolean): { code: number; line: string } {
  const { id, state, revokedAt } = detail.termination;
  if (revokedAt)
    return { code: 0, line: `termination ${id}: access revoked at ${revokedAt} (every critical task verified); state ${state}` };
  if (timedOut)
    return {
      code: 1,
      line: `termination ${id}: still ${state} when the time allowed ran out; follow it with \`deprovisiond status ${id} --watch\``,
    };
  if (!ENDED.includes(state) && criticalFailed(detail)) {
    return {
      code: 1,
      line: `termination ${id}: a critical task failed, so access is not revoked while its other tasks go on; replay or waive it (see \`deprovisiond status ${id}\`)`,
    };
  }
  return { code: 1, line: `termination ${id} ${state} before its access was revoked; see \`deprovisiond status ${id}\`` };
}

/** Each task's state as it changes, one line each: for pipes and for `terminate --wait`. */
export function taskChanges(io: CliIo): (detail: TerminationDetail) => void {
  const seen = new Map<string, string>();
  const colors = colorsFor(io.out, io.env);
  return (detail) => {
    for (const k of detail.tasks) {
      if (seen.get(k.id) === k.state) continue;
      seen.set(k.id, k.state);
      const error = k.lastError && k.state !== 'succeeded' ? `  ${k.lastError.kind}: ${k.lastError.message}` : '';
      io.out.write(stateColor(colors, k.state)(`  ${k.stepId.padEnd(28)} ${k.state}${error}`) + '\n');
    }
  };
}
