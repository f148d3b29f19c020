/**
 * GET /terminations, GET /terminations/{id} and its evidence: what viewers may see. Each
 * answers only once what it read is on disk (invariant 7: on SQLite a read can see a
 * write whose commit is still being synced).
 */
import type { Request, Response } from 'express';
import { BadRequestError, NotFoundError, fromStore, storeFailure } from '../server/http-errors.ts';
import { InvalidCursorError } from '../store/sql-store.ts';
import { durableRead } from '../store/store.ts';
import type { AdminDeps } from './deps.ts';
import { parse } from './parse.ts';
import { evidenceQuery, listQuery } from './schemas.ts';
import { subjectKeysFor, terminationDetail } from './views.ts';
import { buildEvidence, renderEvidenceHtml } from '../audit/evidence.ts';

export function listTerminations(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const query = parse(listQuery, req.query, 'query');
    let page;
    try {
      page = await deps.store.listTerminations({
        state: query.state,
        withFailedTasks: query.failedTasks === 'true',
        subjectKeys: query.subject ? subjectKeysFor(query.subject) : undefined,
        since: query.since,
        until: query.until,
        source: query.source,
        search: query.q,
        limit: query.limit,
        cursor: query.cursor,
      });
    } catch (error) {
      if (error instanceof InvalidCursorError) throw new BadRequestError('cursor: invalid pagination cursor');
      throw storeFailure(error);
    }
    await fromStore(() => deps.store.durable());
    res.json({ items: page.items, nextCursor: page.nextCursor });
  };
}

export function getTermination(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const id = String(req.params.id);
    const termination = await fromStore(() => deps.store.getTermination(id));
    if (!termination) throw new NotFoundError(`termination ${id} not found`);
    const [tasks, attempts, holds] = await fromStore(() =>
      durableRead(deps.store, () => Promise.all([deps.store.listTasks(id), deps.store.listAttempts(id), deps.store.holdsCovering(id)])),
    );
    res.json(terminationDetail(termination, tasks, attempts, holds));
  };
}

/**
 * The evidence document of one termination: JSON, or a printable HTML page with
 * `?format=html`; with `?download=true`, as a file named after the termination.
 */
export function getEvidence(deps: AdminDeps) {
  return async (req: Request, res: Response) => {
    const query = parse(evidenceQuery, req.query, 'query');
    const id = String(req.params.id);
    const termination = await fromStore(() => deps.store.getTermination(id));
    if (!termination) throw new NotFoundError(`termination ${id} not found`);
    const [tasks, attempts, audit, reverifications, holds] = await fromStore(() =>
      durableRead(deps.store, () =>
        Promise.all([
          deps.store.listTasks(id),
          deps.store.listAttempts(id),
          deps.store.listAuditOf(id),
          deps.store.listReverifications(id),
          deps.store.holdsCovering(id),
        ]),
      ),
    );
    const doc = buildEvidence(termination, tasks, attempts, audit, new Date(), reverifications, holds);
    // The stored id, not the one in the URL, names the file: nothing the caller typed reaches the header.
    if (query.download === 'true') res.attachment(`evidence-${termination.id}.${query.format ?? 'json'}`);
    if (query.format === 'html') {
      res.type('html').set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'").send(renderEvidenceHtml(doc));
      return;
    }
    res.json(doc);
  };
}
