/**
 * The HTTP front of the daemon: health (open), metrics (viewer token unless configured
 * public), and the routers that intake and the admin API mount. Request bodies are
 * size-limited before any route sees them.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.ts';
import { logServerError } from './http-errors.ts';
import { TokenSet, bearerToken } from './tokens.ts';

export interface AppOptions {
  config: Config;
  logger: Logger;
  metrics: Registry;
  /** Readiness: true once the store is migrated and the engine runs, and while the store can commit; false while draining. */
  ready: () => boolean | Promise<boolean>;
  /** Routers mounted by path (`/scim/v2`, `/webhooks`, `/admin/v1`): each authenticates its own requests. */
  routers?: Array<{ path: string; router: Router }>;
}

export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = await options.ready();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready' });
  });

  const metricsTokens = new TokenSet(options.config.auth.admin.map((a) => ({ token: a.token, principal: a.name })));
  app.get('/metrics', async (req, res) => {
    if (!options.config.auth.publicMetrics) {
      const token = bearerToken(req.headers.authorization);
      if (!token || metricsTokens.match(token) === null) {
        res.status(401).set('WWW-Authenticate', 'Bearer').json({ error: 'unauthorized' });
        return;
      }
    }
    res.set('Content-Type', options.metrics.contentType).send(await options.metrics.metrics());
  });

  for (const { path, router } of options.routers ?? []) app.use(path, router);

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = httpStatusOf(error);
    if (status >= 500) {
      const requestId = logServerError(options.logger, error, { method: req.method, path: req.path }, 'request failed');
      res.status(status).json({ error: 'internal error', requestId });
      return;
    }
    // Client errors from body parsing (413 too large, 400 bad JSON) say what, never echo the body.
    res.status(status).json({ error: status === 413 ? 'request body too large' : 'bad request' });
  });
  return app;
}

function httpStatusOf(error: unknown): number {
  // Anything can be thrown, null and undefined included.
  const thrown = error as { status?: unknown; statusCode?: unknown } | null | undefined;
  const status = thrown?.status ?? thrown?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}
