/**
 * The SCIM 2.0 service provider (RFC 7643/7644) at /scim/v2, on scimmy + scimmy-routers.
 * In front of the SCIMMY router, in this order: bearer-token auth (before any body is
 * read), the JSON body parser with the configured size and depth limits, the string-boolean
 * repair for Entra, the query reader (filter parsed once, attribute lists and paging
 * checked: see query.ts), the PATCH that only sets `active` (answered here, see
 * active-patch.ts), /Groups (group-router.ts) and the root POST /.search (root-search.ts).
 * Every error answers a SCIM error body.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';
import type { Config } from '../../config/schema.ts';
import { coerceError } from '../../domain/errors.ts';
import { RETRY_AFTER_SECONDS, UnauthorizedError } from '../../server/http-errors.ts';
import { JSON_TOO_DEEP, jsonDepthExceeds } from '../../server/json-depth.ts';
import { TokenSet, bearerToken } from '../../server/tokens.ts';
import type { Store } from '../../store/store.ts';
import type { TerminationService } from '../termination-service.ts';
import { normaliseScimBody } from './normalise.ts';
import { activeOnlyPatch, userIdOf } from './active-patch.ts';
import { groupRoutes } from './group-router.ts';
import { rootSearch } from './root-search.ts';
import { ScimGroupService } from './group-service.ts';
import { userIfMatch } from './user-if-match.ts';
import type { FilterNode } from './filter.ts';
import { ScimQueryError, scimQueryReader } from './query.ts';
import { STORE_UNAVAILABLE_DETAIL, applyServiceProviderConfig, declareScimResources, toScimError, type ScimContext } from './resources.ts';
import { toScimUser } from './user-mapping.ts';
import { ScimUserService } from './user-service.ts';

export interface ScimRouterOptions {
  config: Pick<Config, 'auth' | 'server'>;
  store: Store;
  terminations: TerminationService;
  logger: Logger;
}

const SCIM_CONTENT_TYPE = 'application/scim+json';

function sendScimError(res: Response, status: number, detail: string, scimType?: string): void {
  res
    .status(status)
    .type(SCIM_CONTENT_TYPE)
    .send(JSON.stringify({ schemas: [SCIMMY.Messages.Error.id], status: String(status), ...(scimType ? { scimType } : {}), detail }));
}

export function createScimRouter(options: ScimRouterOptions): Router {
  const { config, logger } = options;
  declareScimResources();
  // The principal names the token by its position in auth.scim, never by its value.
  const tokens = new TokenSet(config.auth.scim.map((token, index) => ({ token, principal: `scim:token-${index}` })));
  const users = new ScimUserService({ store: options.store, terminations: options.terminations, logger });
  const groups = new ScimGroupService({ store: options.store, logger });
  const actors = new WeakMap<Request, string>();
  const queries = scimQueryReader();
  /** Each request's filter, parsed once by the query reader; SCIMMY never sees the expression. */
  const filters = new WeakMap<Request, FilterNode | null>();
  /** Requests that failed because the store is unavailable (marked by the resource handlers). */
  const storeOutages = new WeakSet<Request>();

  const authenticate = (req: Request): string => {
    const known = actors.get(req);
    if (known) return known;
    const token = bearerToken(req.headers.authorization);
    const actor = token === null ? null : tokens.match(token);
    if (actor === null) throw new UnauthorizedError('a valid bearer token is required');
    actors.set(req, actor);
    return actor;
  };

  const contextFor = (req: Request): ScimContext => ({
    users,
    logger,
    actor: authenticate(req),
    method: req.method,
    filter: filters.get(req) ?? null,
    // A 299 warning: the response body stays the plain resource clients expect.
    warn: (notice) => req.res?.setHeader('Warning', `299 deprovisiond ${JSON.stringify(notice)}`),
    storeUnavailable: () => storeOutages.add(req),
  });

  const scimmy = new SCIMMYRouters({
    type: 'bearer',
    // Already checked in front; kept as the router's own gate (and the id /Me would use).
    handler: (req) => authenticate(req),
    context: contextFor,
  });
  applyServiceProviderConfig();

  const router = express.Router();
  router.use((req, res, next) => {
    try {
      authenticate(req);
      next();
    } catch {
      res.set('WWW-Authenticate', 'Bearer realm="deprovisiond SCIM"');
      sendScimError(res, 401, 'a valid bearer token is required');
    }
  });
  router.use(express.json({ type: [SCIM_CONTENT_TYPE, 'application/json'], limit: config.server.bodyLimit }));
  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    const status = (error as { status?: unknown }).status;
    if (status === 413) return sendScimError(res, 413, `request body larger than ${config.server.bodyLimit}`);
    // Never echo the body back: it may carry a password.
    if (typeof status === 'number' && status >= 400 && status < 500)
      return sendScimError(res, 400, 'request body is not valid JSON', 'invalidSyntax');
    next(error);
  });
  router.use((req, res, next) => {
    if (jsonDepthExceeds(req.body)) return sendScimError(res, 400, JSON_TOO_DEEP, 'invalidSyntax');
    if (req.body !== undefined) req.body = normaliseScimBody(req.body);
    // Express 5 re-parses req.query on every read, so what is checked and converted here
    // (paging numbers, the filter taken out) would be lost: pin one parsed copy.
    const query: Record<string, unknown> = { ...req.query };
    Object.defineProperty(req, 'query', { value: query, writable: true, configurable: true, enumerable: true });
    try {
      filters.set(req, queries.read({ method: req.method, path: req.path, query, body: req.body }));
    } catch (error) {
      if (!(error instanceof ScimQueryError)) throw error;
      return sendScimError(res, error.status, error.message, error.scimType ?? undefined);
    }
    next();
  });
  // Microsoft's SCIM validator probes this pre-RFC name of the discovery endpoint.
  router.get('/serviceConfiguration', (req, _res, next) => {
    req.url = '/ServiceProviderConfig';
    next();
  });
  // SCIMMY answers a store outage 500 (it cannot build a 503 error body): rewrite the
  // status, the body's `status` and add Retry-After as the answer is sent, so clients retry.
  router.use((req, res, next) => {
    const send = res.send.bind(res);
    res.send = (body?: unknown) => {
      if (storeOutages.has(req) && res.statusCode === 500) {
        res.status(503).set('Retry-After', RETRY_AFTER_SECONDS);
        if (body !== null && typeof body === 'object' && !Buffer.isBuffer(body)) {
          body = { ...(JSON.parse(JSON.stringify(body)) as object), status: '503', detail: STORE_UNAVAILABLE_DETAIL };
        }
      }
      return send(body);
    };
    next();
  });
  // RFC 7644 §3.4.2: itemsPerPage is the number of resources in the page. SCIMMY's own
  // ListResponse (discovery lists, the root search) gives the page size asked for instead,
  // 20 by default, which Microsoft's validator checks against the resources it counts.
  router.use((_req, res, next) => {
    const send = res.send.bind(res);
    res.send = (body?: unknown) => {
      if (body instanceof SCIMMY.Messages.ListResponse) body.itemsPerPage = body.Resources.length;
      return send(body);
    };
    next();
  });
  router.use(userIfMatch(users, contextFor));
  // Deactivation and rehire without SCIMMY's round trips (see active-patch.ts); answered
  // as scimmy-routers answers a PATCH, and its failures as SCIMMY's would be.
  router.use(async (req, res, next) => {
    const id = req.method === 'PATCH' ? userIdOf(req.path) : null;
    const active = id === null ? null : activeOnlyPatch(req.body, req.query);
    if (id === null || active === null) return next();
    const context = contextFor(req);
    try {
      const user = await users.setActive(id, active, context);
      const groups = { of: await users.groupsOf(user.id), basepath: `${req.baseUrl}/Groups` };
      // Set as scimmy-routers sets it for each request: the base of meta.location.
      SCIMMY.Resources.User.basepath(req.baseUrl);
      const basepath = SCIMMY.Resources.User.basepath() as string;
      // The schema's coercion alone, without the User instance SCIMMY wraps around it (its
      // accessors coerce every attribute again): the same JSON for a third of the CPU.
      res
        .status(200)
        .type(SCIM_CONTENT_TYPE)
        .send(SCIMMY.Schemas.User.definition.coerce(toScimUser(user, basepath, groups), 'out', basepath));
    } catch (error) {
      const failure = toScimError(error, context);
      res.status(failure.status).type(SCIM_CONTENT_TYPE).send(new SCIMMY.Messages.Error(failure));
    }
  });
  router.use(groupRoutes({ groups, contextFor }));
  router.post('/.search', rootSearch({ queries, groups, contextFor }));
  router.use(scimmy as unknown as Router);
  router.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    // SCIMMY has sent its own error body and passes 5xx errors on (the cause, if ours, is logged where it was caught).
    logger.error({ err: coerceError(error), method: req.method, path: req.path }, 'SCIM request answered with a server error');
    if (!res.headersSent) sendScimError(res, 500, 'the request could not be completed; retry it');
  });
  return router;
}
