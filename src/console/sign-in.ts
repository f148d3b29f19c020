/**
 * The console's ways in, each ending in the same session cookie: an admin token or OIDC
 * access token pasted into the form (checked as the admin API checks it), or, when
 * `auth.oidc.console` is configured, the authorization code flow with PKCE at the issuer
 * (oidc-login.ts). A refusal shows the sign-in page with one of our fixed sentences, never
 * anything the request carried.
 */
import { parse as parseCookies } from 'cookie';
import express, { type Request, type Response, type Router } from 'express';
import { principalResolver } from '../admin/auth.ts';
import type { AdminDeps } from '../admin/deps.ts';
import type { Principal } from '../admin/principal.ts';
import { oidcVerifierFor } from '../admin/router.ts';
import { HttpError, UnauthorizedError } from '../server/http-errors.ts';
import { ConsoleOidc, LOGIN_TTL_MS, OidcSignInError, type ConsoleOidcConfig, type SignInFailure } from './oidc-login.ts';
import { loginPage, signedInPage } from './pages.ts';
import { SESSION_TTL_MS, type SessionStore } from './sessions.ts';

export const SESSION_COOKIE = 'deprovisiond_console';
/** Names the OIDC sign-in in progress (oidc-login.ts); lives no longer than the sign-in may take. */
const LOGIN_COOKIE = 'deprovisiond_console_login';
const CALLBACK_PATH = '/console/login/callback';

const UNAVAILABLE = 'The identity provider is unavailable; try again shortly.';
const OIDC_PROBLEMS: Record<SignInFailure, { status: number; sentence: string }> = {
  denied: { status: 401, sentence: 'The identity provider did not sign you in (refused or cancelled there).' },
  refused: { status: 401, sentence: 'That sign-in could not be completed. Start again with the button below.' },
  expired: {
    status: 401,
    sentence: 'That sign-in was not started here, was already used, or took too long. Start again with the button below.',
  },
  'no-role': {
    status: 403,
    sentence: 'You are signed in at the identity provider, but nothing grants you a console role (viewer or operator).',
  },
  unavailable: { status: 503, sentence: UNAVAILABLE },
};

export function signInRoutes(router: Router, deps: AdminDeps, sessions: SessionStore): void {
  const resolve = principalResolver(deps.config.auth, oidcVerifierFor(deps));
  const oidcConfig = deps.config.auth.oidc;
  const oidc = oidcConfig?.console ? new ConsoleOidc(oidcConfig as ConsoleOidcConfig, deps.now) : null;
  const page = (problem: string | null) => loginPage(problem, oidc?.issuer ?? null);

  /** The same cookie whichever way the operator came in. */
  const openSession = (req: Request, res: Response, principal: Principal) => {
    const { id } = sessions.create(principal);
    res.cookie(SESSION_COOKIE, id, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/console', maxAge: SESSION_TTL_MS });
  };
  const refuse = (res: Response, status: number, sentence: string, error: unknown) => {
    if (status >= 500) deps.logger.warn({ status, err: error }, 'console sign-in failed');
    res.status(status).type('html').send(page(sentence));
  };

  router.get('/console/login', (_req, res) => {
    res.type('html').send(page(null));
  });

  router.post('/console/login', express.urlencoded({ extended: false, limit: '16kb' }), async (req, res) => {
    const submitted = (req.body as { token?: unknown } | undefined)?.token;
    const token = typeof submitted === 'string' ? submitted.trim() : '';
    try {
      if (!token) throw new UnauthorizedError('missing token');
      openSession(req, res, await resolve(token));
      res.redirect(303, '/console/');
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      const sentence =
        status === 403
          ? 'That token is valid but grants no console role (viewer or operator).'
          : status === 503
            ? UNAVAILABLE
            : 'That token was not accepted. Paste an admin token or an OIDC access token.';
      // The resolver's errors never carry the token; anything else is logged by status only.
      refuse(res, status, sentence, error instanceof HttpError ? error : undefined);
    }
  });

  if (!oidc) return;

  router.get('/console/login/oidc', async (req, res) => {
    try {
      const { id, url } = await oidc.begin(redirectUri(req, oidcConfig!.console!.redirectUri));
      // SameSite=Lax, not Strict: the issuer sends the browser back here from another site,
      // and a Strict cookie would not come along on that navigation. It names a sign-in in
      // progress only; the session cookie set at the callback is Strict.
      res.cookie(LOGIN_COOKIE, id, { httpOnly: true, sameSite: 'lax', secure: req.secure, path: CALLBACK_PATH, maxAge: LOGIN_TTL_MS });
      res.redirect(303, url.href);
    } catch (error) {
      const { status, sentence } = OIDC_PROBLEMS[error instanceof OidcSignInError ? error.reason : 'unavailable'];
      refuse(res, status, sentence, error);
    }
  });

  router.get(CALLBACK_PATH, async (req, res) => {
    res.clearCookie(LOGIN_COOKIE, { path: CALLBACK_PATH });
    const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?')) : '';
    try {
      openSession(req, res, await oidc.finish(parseCookies(req.headers.cookie ?? '')[LOGIN_COOKIE], query));
    } catch (error) {
      if (!(error instanceof OidcSignInError)) throw error;
      const { status, sentence } = OIDC_PROBLEMS[error.reason];
      return refuse(res, status, sentence, error);
    }
    // Not a redirect: this request came from the issuer's site, and the browser would not send
    // the new SameSite=Strict cookie on a redirect that continues it. The page's own
    // navigation (a meta refresh, no script) starts on this site.
    res.type('html').send(signedInPage());
  });
}

/**
 * The configured redirect URI, or the callback on the host the browser used: the issuer
 * accepts only URIs registered with it, and the same value is sent with the code, so a
 * forged Host header can only make the sign-in fail.
 */
function redirectUri(req: Request, configured: string | undefined): string {
  return configured ?? `${req.protocol}://${String(req.get('host'))}${CALLBACK_PATH}`;
}
