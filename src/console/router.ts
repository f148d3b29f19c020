/**
 * The web console: GET / leads to /console/, a page that lists terminations, shows one
 * with its tasks and evidence, and offers the operator's actions. Sign-in exchanges an
 * admin token or an OIDC access token (checked as the admin API checks it) for an
 * HttpOnly, SameSite=Strict session cookie; the page then calls the admin API's own routes,
 * mounted under /console/api behind that cookie and a CSRF header on every write. Roles are
 * the API's: a viewer's writes are refused there, whatever the page shows.
 */
import { readFileSync } from 'node:fs';
import { parse as parseCookies } from 'cookie';
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import { principalResolver } from '../admin/auth.ts';
import type { AdminDeps } from '../admin/deps.ts';
import { buildAdminRouter, oidcVerifierFor } from '../admin/router.ts';
import { HttpError, ForbiddenError, UnauthorizedError } from '../server/http-errors.ts';
import { appPage, loginPage } from './pages.ts';
import { SESSION_TTL_MS, SessionStore, csrfMatches } from './sessions.ts';

const COOKIE = 'deprovisiond_console';

/** Nothing from elsewhere, no inline script or style, no framing. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const ASSETS: Record<string, { type: string; body: string }> = Object.fromEntries(
  [
    ['app.js', 'text/javascript'],
    ['app.css', 'text/css'],
  ].map(([name, type]) => [name, { type: type!, body: readFileSync(new URL(`./assets/${name}`, import.meta.url), 'utf8') }]),
);

export function buildConsoleRouter(deps: AdminDeps): Router {
  const sessions = new SessionStore(deps.now);
  const resolve = principalResolver(deps.config.auth, oidcVerifierFor(deps));
  const router = express.Router();
  const sessionOf = (req: Request) => sessions.get(parseCookies(req.headers.cookie ?? '')[COOKIE]);

  router.get('/', (_req, res) => res.redirect(302, '/console/'));
  // Browsers ask for it on every page; an empty answer keeps their consoles free of 404s.
  router.get('/favicon.ico', (_req, res) => res.status(204).end());
  router.use('/console', securityHeaders);

  router.get('/console/', (req, res) => {
    if (!sessionOf(req)) return res.redirect(302, '/console/login');
    res.type('html').send(appPage());
  });
  router.get('/console/login', (_req, res) => {
    res.type('html').send(loginPage(null));
  });
  router.post('/console/login', express.urlencoded({ extended: false, limit: '16kb' }), async (req, res) => {
    const token = typeof req.body?.token === 'string' ? req.body.token.trim() : '';
    try {
      if (!token) throw new UnauthorizedError('missing token');
      const { id } = sessions.create(await resolve(token));
      res.cookie(COOKIE, id, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/console', maxAge: SESSION_TTL_MS });
      res.redirect(303, '/console/');
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      const problem =
        status === 403 ? 'That token is valid but grants no console role (viewer or operator).' : status === 503 ? 'The identity provider is unavailable; try again shortly.' : 'That token was not accepted. Paste an admin token or an OIDC access token.';
      if (status >= 500) deps.logger.warn({ status }, 'console sign-in failed');
      res.status(status).type('html').send(loginPage(problem));
    }
  });

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
    sessions.delete(parseCookies(req.headers.cookie ?? '')[COOKIE]);
    res.clearCookie(COOKIE, { path: '/console' }).status(204).end();
  });
  router.get('/console/assets/:name', (req, res, next) => {
    const asset = ASSETS[String(req.params.name)];
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
