/**
 * The web console: GET / leads to /console/, a page that lists terminations, shows one
 * with its tasks and evidence, and offers the operator's actions. Sign-in exchanges an
 * admin token or an OIDC access token (checked as the admin API checks it) for an
 * HttpOnly, SameSite=Strict session cookie, and so does the OIDC authorization code flow
 * when configured (sign-in.ts); the page then calls the admin API's own routes,
 * mounted under /console/api behind that cookie and a CSRF header on every write. Roles are
 * the API's: a viewer's writes are refused there, whatever the page shows.
 */
import { readFileSync } from 'node:fs';
import { parse as parseCookies } from 'cookie';
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import type { AdminDeps } from '../admin/deps.ts';
import { buildAdminRouter } from '../admin/router.ts';
import { HttpError, ForbiddenError, UnauthorizedError } from '../server/http-errors.ts';
import { appPage } from './pages.ts';
import { SessionStore, csrfMatches } from './sessions.ts';
import { SESSION_COOKIE, signInRoutes } from './sign-in.ts';

/** Nothing from elsewhere, no inline script or style, no framing. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** A Map, not an object: a name from the URL must not find `constructor` or `__proto__`. */
const ASSETS = new Map(
  (
    [
      ['app.js', 'text/javascript'],
      ['holds.js', 'text/javascript'],
      ['app.css', 'text/css'],
    ] as const
  ).map(([name, type]) => [name as string, { type, body: readFileSync(new URL(`./assets/${name}`, import.meta.url), 'utf8') }]),
);

export function buildConsoleRouter(deps: AdminDeps): Router {
  const sessions = new SessionStore(deps.now);
  const router = express.Router();
  const sessionOf = (req: Request) => sessions.get(parseCookies(req.headers.cookie ?? '')[SESSION_COOKIE]);

  router.get('/', (_req, res) => res.redirect(302, '/console/'));
  // Browsers ask for it on every page; an empty answer keeps their consoles free of 404s.
  router.get('/favicon.ico', (_req, res) => res.status(204).end());
  router.use('/console', securityHeaders);

  router.get('/console/', (req, res) => {
    if (!sessionOf(req)) return res.redirect(302, '/console/login');
    res.type('html').send(appPage());
  });
  signInRoutes(router, deps, sessions);

  const requireSession: RequestHandler = (req, res, next) => {
    const session = sessionOf(req);
    if (!session) throw new UnauthorizedError('not signed in: sign in at /console/login');
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    if (write && !csrfMatches(session, req.get('x-csrf-token'))) throw new ForbiddenError('missing or wrong CSRF token: reload the page');
    res.locals.principal = session.principal;
    next();
  };
  router.get('/console/session', requireSession, (req, res) => {
    const { principal, csrf } = sessionOf(req)!;
    res.set('cache-control', 'no-store').json({ actor: principal.actor, role: principal.role, csrf });
  });
  router.post('/console/logout', requireSession, (req, res) => {
    sessions.delete(parseCookies(req.headers.cookie ?? '')[SESSION_COOKIE]);
    res.clearCookie(SESSION_COOKIE, { path: '/console' }).status(204).end();
  });
  router.get('/console/assets/:name', (req, res, next) => {
    const asset = ASSETS.get(req.params.name);
    if (!asset) return next();
    res.type(asset.type).set('cache-control', 'no-cache').send(asset.body);
  });
  router.use('/console/api', buildAdminRouter(deps, requireSession));
  // Session and CSRF refusals outside the API answer in the API's JSON shape.
  router.use('/console', (error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (!(error instanceof HttpError)) return next(error);
    res.status(error.status).json({ error: error.message });
  });
  return router;
}

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.set({
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cache-control': 'no-store',
  });
  next();
};
