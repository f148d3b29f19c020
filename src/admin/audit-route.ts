/**
 * GET /audit: the hash-chained audit log in chain order, a page at a time, for viewers.
 * Entries the linker has not linked yet (moments after they commit) come after the linked
 * ones, without a position; they are read again, linked, from the last position.
 */
import type { Request, Response } from 'express';
import { fromStore } from '../server/http-errors.ts';
import { durableRead } from '../store/store.ts';
import type { AdminDeps } from './deps.ts';
import { parse } from './parse.ts';
import { auditQuery } from './schemas.ts';

export function listAuditLog(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const query = parse(auditQuery, req.query, 'query');
    const entries = await fromStore(() => durableRead(deps.store, () => deps.store.listAudit(query.after, query.limit)));
    const linked = entries.filter((e) => e.position !== null);
    res.json({
      items: entries.map((e) => ({
        position: e.position,
        seq: e.seq,
        at: e.at.toISOString(),
        actor: e.actor,
        action: e.action,
        terminationId: e.terminationId,
        taskId: e.taskId,
        data: e.data,
        // What the hash covers when the data is sealed (docs/privacy.md); null when `data` is it.
        sealedData: e.sealedData,
        hash: e.hash,
        linked: e.position !== null,
      })),
      // A full page of linked entries may have more behind it; otherwise this was the end.
      nextAfter: linked.length === query.limit ? linked.at(-1)!.position : null,
    });
  };
}
