/**
 * Walks the audit chain in chain order (by position) and reports the first broken link: an
 * edited row (its hash no longer matches its fields), a removed or reordered row (its
 * prev_hash no longer matches the hash before it), or an anchor (where pruning left the
 * chain's start) that the chain's own `audit.pruned` record does not vouch for. Entries
 * the linker has not linked yet are counted, not judged: they have no link to check.
 */
import type { AuditEntry } from '../store/store.ts';
import { GENESIS_HASH, chainHash } from './chain.ts';

interface Counts {
  /** Linked entries that verify, before the break if any. */
  entries: number;
  /** Entries appended but not linked yet (the linker links them moments after they commit). */
  unlinked: number;
}

export type ChainReport =
  | (Counts & { ok: true; head: string; anchoredAt: number | null })
  | (Counts & { ok: false; brokenAt: number; reason: 'edited' | 'removed_or_reordered' | 'anchor_moved'; detail: string });

/**
 * Reads entries page by page through `page(afterPosition, limit)` (linked ones in chain
 * order, then the unlinked), so a long chain never sits in memory at once. `countUnlinked`
 * gives the exact number waiting for the linker; without it, those seen on the last page count.
 */
export async function verifyAuditChain(
  page: (afterPosition: number, limit: number) => Promise<AuditEntry[]>,
  anchor: { position: number; hash: string } | null = null,
  pageSize = 1000,
  countUnlinked?: () => Promise<number>,
): Promise<ChainReport> {
  let prev = anchor?.hash ?? GENESIS_HASH;
  let after = anchor?.position ?? 0;
  let count = 0;
  let unlinkedSeen = 0;
  let lastPruning: { throughPosition?: unknown; throughSeq?: unknown; anchorHash?: unknown } | null = null;
  const unlinked = async () => (countUnlinked ? countUnlinked() : unlinkedSeen);
  const broken = async (entry: AuditEntry, reason: 'edited' | 'removed_or_reordered', detail: string): Promise<ChainReport> => ({
    ok: false,
    entries: count,
    unlinked: await unlinked(),
    brokenAt: entry.position!,
    reason,
    detail: `entry at position ${entry.position!} (seq ${entry.seq}) ${detail}`,
  });
  walk: for (;;) {
    const entries = await page(after, pageSize);
    for (const entry of entries) {
      if (entry.position === null) {
        // The linked chain ends here; what follows is waiting for the linker.
        unlinkedSeen = entries.filter((e) => e.position === null).length;
        break walk;
      }
      if (entry.prevHash !== prev) return broken(entry, 'removed_or_reordered', 'does not follow the entry before it (prev_hash differs)');
      const expected = chainHash(prev, {
        at: entry.at.getTime(),
        actor: entry.actor,
        action: entry.action,
        terminationId: entry.terminationId,
        taskId: entry.taskId,
        // What was chained: the sealed form of an entry about a person (its record may be erased since).
        data: entry.sealedData ?? JSON.stringify(entry.data),
      });
      if (expected !== entry.hash) return broken(entry, 'edited', 'was changed after it was linked (hash differs)');
      if (entry.action === 'audit.pruned') lastPruning = entry.data;
      prev = entry.hash;
      after = entry.position;
      count += 1;
    }
    if (entries.length < pageSize) break;
  }
  // Prunings recorded before migration 0010 name the position `throughSeq` (it was the seq then, and positions kept it).
  const vouched = lastPruning?.throughPosition ?? lastPruning?.throughSeq;
  if (anchor && (lastPruning?.anchorHash !== anchor.hash || vouched !== anchor.position)) {
    return {
      ok: false,
      entries: count,
      unlinked: await unlinked(),
      brokenAt: anchor.position,
      reason: 'anchor_moved',
      detail: `the chain starts after position ${anchor.position}, but no audit.pruned entry records that`,
    };
  }
  return { ok: true, entries: count, unlinked: await unlinked(), head: prev, anchoredAt: anchor?.position ?? null };
}
