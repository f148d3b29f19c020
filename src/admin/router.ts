/**
 * The admin API under /admin/v1. Authentication runs before any body is read, so an
 * unauthenticated caller cannot make the daemon buffer a body; writes then need an
 * operator. The OpenAPI document is served to any authenticated caller (viewer or
 * operator): it describes no secret, but the API surface is not advertised to strangers.
 */
import express, { type RequestHandler, type Router } from 'express';
import { BadRequestError, NotFoundError, jsonErrors } from '../server/http-errors.ts';
import { JSON_TOO_DEEP, jsonDepthExceeds } from '../server/json-depth.ts';
import { authenticate, requireOperator } from './auth.ts';
import type { AdminDeps } from './deps.ts';
import { OidcVerifier } from './oidc.ts';
import { listAuditLog } from './audit-route.ts';
import { listHolds, placeHold, releaseHold } from './hold-routes.ts';
import { eraseSubject, eraseTermination, getErasure, getErasureKey, getErasureRequest, requestErasure } from './erasure-routes.ts';
import { openApiDocument } from './openapi.ts';
import { getOverview } from './overview.ts';
import { getTermination, listTerminations, getEvidence } from './read-routes.ts';
import { getSweep, listReverifications, requestReverify, requestReverifySince } from './reverify-routes.ts';
import {
  approveHeld,
  approveTermination,
  cancelTermination,
  completeTask,
  createTermination,
  replayTasks,
  waiveTask,
} from './write-routes.ts';

/**
 * `authenticator` replaces the bearer-token check: the console mounts the same routes
 * behind its session cookie and CSRF check (src/console/router.ts).
 */
export function buildAdminRouter(deps: AdminDeps, authenticator?: RequestHandler): Router {
  const logger = deps.logger.child({ component: 'admin' });
  const document = openApiDocument();
  const router = express.Router();

  router.use(authenticator ?? authenticate(deps.config.auth, oidcVerifierFor(deps)));
  router.use(express.json({ limit: deps.config.server.bodyLimit }));
  router.use((req, _res, next) => {
    if (jsonDepthExceeds(req.body)) throw new BadRequestError(JSON_TOO_DEEP);
    next();
  });

  router.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  router.get('/overview', getOverview(deps));
  router.get('/audit', listAuditLog(deps));
  router.get('/terminations', listTerminations(deps));
  // Role checked inside: a dry run is open to viewers.
  router.post('/terminations', createTermination(deps));
  router.get('/terminations/:id', getTermination(deps));
  router.get('/terminations/:id/evidence', getEvidence(deps));
  router.post('/terminations/approve-held', requireOperator, approveHeld(deps));
  router.post('/terminations/:id/cancel', requireOperator, cancelTermination(deps));
  router.post('/terminations/:id/approve', requireOperator, approveTermination(deps));
  router.post('/terminations/:id/replay', requireOperator, replayTasks(deps));
  router.post('/reverify', requireOperator, requestReverifySince(deps));
  router.get('/sweep', getSweep(deps));
  router.get('/terminations/:id/reverifications', listReverifications(deps));
  router.post('/terminations/:id/reverify', requireOperator, requestReverify(deps));
  router.post('/terminations/:id/tasks/:taskId/replay', requireOperator, replayTasks(deps));
  router.post('/terminations/:id/tasks/:taskId/complete', requireOperator, completeTask(deps));
  router.post('/terminations/:id/tasks/:taskId/waive', requireOperator, waiveTask(deps));
  router.get('/holds', listHolds(deps));
  router.post('/holds', requireOperator, placeHold(deps));
  router.post('/holds/:id/release', requireOperator, releaseHold(deps));
  router.post('/terminations/:id/erasure', requireOperator, eraseTermination(deps));
  router.post('/erasures', requireOperator, eraseSubject(deps));
  router.get('/erasures/:id', getErasure(deps));
  router.get('/erasure-key', getErasureKey(deps));
  router.post('/erasure-requests', requireOperator, requestErasure(deps));
  router.get('/erasure-requests/:id', getErasureRequest(deps));

  router.use(() => {
    throw new NotFoundError('not found');
  });
  router.use(jsonErrors(logger, 'Bearer realm="deprovisiond"'));
  return router;
}

/** The OIDC verifier the deps name (tests), or one for `auth.oidc`, or none. */
export function oidcVerifierFor(deps: AdminDeps): OidcVerifier | null {
  return deps.oidc !== undefined ? deps.oidc : deps.config.auth.oidc ? new OidcVerifier(deps.config.auth.oidc) : null;
}
