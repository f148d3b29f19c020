/**
 * Walks the audit chain in order and reports the first broken link: an edited row (its
 * hash no longer matches its fields), a removed or reordered row (its prev_hash no longer
 * matches the hash before it).
 */
import type { AuditEntry } from '../store/store.ts';
import { GENESIS_HASH, chainHash } from './chain.ts';

export type ChainReport =
  | { ok: true; entries: number; head: string }
  | { ok: false; entries: number; brokenAt: number; reason: 'edited' | 'removed_or_reordered'; detail: string };

/** Reads entries page by page through `page(afterSeq, limit)`, so a long chain never sits in memory at once. */
export async function verifyAuditChain(page: (afterSeq: number, limit: number) => Promise<AuditEntry[]>, pageSize = 1000): Promise<ChainReport> {
  let prev = GENESIS_HASH;
  let afterSeq = 0;
  let count = 0;
  for (;;) {
    const entries = await page(afterSeq, pageSize);
    for (const entry of entries) {
      if (entry.prevHash !== prev) {
        return { ok: false, entries: count, brokenAt: entry.seq, reason: 'removed_or_reordered', detail: `entry ${entry.seq} does not follow the entry before it (prev_hash differs)` };
      }
      const expected = chainHash(prev, {
        at: entry.at.getTime(),
        actor: entry.actor,
        action: entry.action,
        terminationId: entry.terminationId,
        taskId: entry.taskId,
        data: JSON.stringify(entry.data),
      });
      if (expected !== entry.hash) {
        return { ok: false, entries: count, brokenAt: entry.seq, reason: 'edited', detail: `entry ${entry.seq} was changed after it was written (hash differs)` };
      }
      prev = entry.hash;
      afterSeq = entry.seq;
      count += 1;
    }
    if (entries.length < pageSize) return { ok: true, entries: count, head: prev };
  }
}
