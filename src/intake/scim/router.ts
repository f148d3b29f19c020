/**
 * The SCIM 2.0 service provider (RFC 7643/7644) at /scim/v2, on scimmy + scimmy-routers.
 * In front of the SCIMMY router, in this order: bearer-token auth (before any body is
 * read), the JSON body parser with the configured size limit, the string-boolean repair
 * for Entra, stable numeric paging parameters, and the PATCH that only sets `active`
 * (answered here, see active-patch.ts). Every error answers a SCIM error body.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';
import type { Config } from '../../config/schema.ts';
import { coerceError } from '../../domain/errors.ts';
import { TokenSet, bearerToken } from '../../server/tokens.ts';
import type { Store } from '../../store/store.ts';
import type { TerminationService } from '../termination-service.ts';
import { normaliseScimBody } from './normalise.ts';
import { activeOnlyPatch, userIdOf } from './active-patch.ts';
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

class UnauthorizedError extends Error {
  constructor() {
    super('a valid bearer token is required');
    this.name = 'UnauthorizedError';
  }
}

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
  const actors = new WeakMap<Request, string>();
  /** Requests that failed because the store is unavailable (marked by the resource handlers). */
  const storeOutages = new WeakSet<Request>();

  const authenticate = (req: Request): string => {
    const known = actors.get(req);
    if (known) return known;
    const token = bearerToken(req.headers.authorization);
    const actor = token === null ? null : tokens.match(token);
    if (actor === null) throw new UnauthorizedError();
    actors.set(req, actor);
    return actor;
  };

  const contextFor = (req: Request): ScimContext => ({
    users,
    logger,
    actor: authenticate(req),
    method: req.method,
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
    if (typeof status === 'number' && status >= 400 && status < 500) return sendScimError(res, 400, 'request body is not valid JSON', 'invalidSyntax');
    next(error);
  });
  router.use((req, _res, next) => {
    if (req.body !== undefined) req.body = normaliseScimBody(req.body);
    // Express 5 re-parses req.query on every read, so scimmy-routers' cast of startIndex and
    // count to numbers would be lost and paging silently ignored: pin one parsed copy.
    const query: Record<string, unknown> = { ...req.query };
    for (const key of ['startIndex', 'count']) {
      const value = query[key];
      if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) query[key] = Number(value);
    }
    Object.defineProperty(req, 'query', { value: query, writable: true, configurable: true, enumerable: true });
    next();
  });
  // SCIMMY parses `filter` (query, or a .search body) before any handler of ours runs, and
  // some malformed expressions ("userName", "not") crash its parser with a TypeError that
  // would answer 500 with the exception's text: answer those 400 invalidFilter here.
  router.use((req, res, next) => {
    const query = (req.query as Record<string, unknown>).filter;
    const body = req.method === 'POST' && req.path.endsWith('/.search') ? (req.body as { filter?: unknown } | undefined)?.filter : undefined;
    for (const expression of [query, body]) {
      if (expression === undefined) continue;
      if (typeof expression !== 'string') return sendScimError(res, 400, 'filter: expected one string', 'invalidFilter');
      try {
        new SCIMMY.Types.Filter(expression);
      } catch (error) {
        // SCIMMY's own 400s (with their message) are left to SCIMMY.
        if (!(error instanceof SCIMMY.Types.Error)) return sendScimError(res, 400, 'filter: the expression could not be parsed', 'invalidFilter');
      }
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
        res.status(503).set('Retry-After', '5');
        if (body !== null && typeof body === 'object' && !Buffer.isBuffer(body)) {
          body = { ...(JSON.parse(JSON.stringify(body)) as object), status: '503', detail: STORE_UNAVAILABLE_DETAIL };
        }
      }
      return send(body);
    };
    next();
  });
  // Deactivation and rehire without SCIMMY's round trips (see active-patch.ts); answered
  // as scimmy-routers answers a PATCH, and its failures as SCIMMY's would be.
  router.use(async (req, res, next) => {
    const id = req.method === 'PATCH' ? userIdOf(req.path) : null;
    const active = id === null ? null : activeOnlyPatch(req.body, req.query);
    if (id === null || active === null) return next();
    const context = contextFor(req);
    try {
      const user = await users.setActive(id, active, context);
      // Set as scimmy-routers sets it for each request: the base of meta.location.
      SCIMMY.Resources.User.basepath(req.baseUrl);
      const basepath = SCIMMY.Resources.User.basepath() as string;
      // The schema's coercion alone, without the User instance SCIMMY wraps around it (its
      // accessors coerce every attribute again): the same JSON for a third of the CPU.
      res.status(200).type(SCIM_CONTENT_TYPE).send(SCIMMY.Schemas.User.definition.coerce(toScimUser(user, basepath), 'out', basepath));
    } catch (error) {
      const failure = toScimError(error, context);
      res.status(failure.status).type(SCIM_CONTENT_TYPE).send(new SCIMMY.Messages.Error(failure));
    }
  });
  router.use(scimmy as unknown as Router);
  router.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    // SCIMMY has sent its own error body and passes 5xx errors on (the cause, if ours, is logged where it was caught).
    logger.error({ err: coerceError(error), method: req.method, path: req.path }, 'SCIM request answered with a server error');
    if (!res.headersSent) sendScimError(res, 500, 'the request could not be completed; retry it');
  });
  return router;
}
