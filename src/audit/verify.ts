/**
 * Walks the audit chain in order and reports the first broken link: an edited row (its
 * hash no longer matches its fields), a removed or reordered row (its prev_hash no longer
 * matches the hash before it), or an anchor (where pruning left the chain's start) that
 * the chain's own `audit.pruned` record does not vouch for.
 */
import type { AuditEntry } from '../store/store.ts';
import { GENESIS_HASH, chainHash } from './chain.ts';

export type ChainReport =
  | { ok: true; entries: number; head: string; anchoredAt: number | null }
  | { ok: false; entries: number; brokenAt: number; reason: 'edited' | 'removed_or_reordered' | 'anchor_moved'; detail: string };

/** Reads entries page by page through `page(afterSeq, limit)`, so a long chain never sits in memory at once. */
export async function verifyAuditChain(
  page: (afterSeq: number, limit: number) => Promise<AuditEntry[]>,
  anchor: { seq: number; hash: string } | null = null,
  pageSize = 1000,
): Promise<ChainReport> {
  let prev = anchor?.hash ?? GENESIS_HASH;
  let afterSeq = anchor?.seq ?? 0;
  let count = 0;
  let lastPruning: { throughSeq?: unknown; anchorHash?: unknown } | null = null;
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
      if (entry.action === 'audit.pruned') lastPruning = entry.data;
      prev = entry.hash;
      afterSeq = entry.seq;
      count += 1;
    }
    if (entries.length < pageSize) break;
  }
  if (anchor && (lastPruning?.anchorHash !== anchor.hash || lastPruning?.throughSeq !== anchor.seq)) {
    return { ok: false, entries: count, brokenAt: anchor.seq, reason: 'anchor_moved', detail: `the chain starts after entry ${anchor.seq}, but no audit.pruned entry records that` };
  }
  return { ok: true, entries: count, head: prev, anchoredAt: anchor?.seq ?? null };
}
