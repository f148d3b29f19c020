/**
 * Admin API authentication: configured bearer tokens (constant-time, see TokenSet), then,
 * when configured, OIDC access tokens. Viewers read; operators read and write.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Config } from '../config/schema.ts';
import { ForbiddenError, UnauthorizedError, UnavailableError } from '../server/http-errors.ts';
import { TokenSet, bearerToken } from '../server/tokens.ts';
import { InvalidOidcTokenError, OidcUnavailableError, type OidcVerifier } from './oidc.ts';
import { principalOf, type Principal } from './principal.ts';

/** A compact JWS: three base64url parts. Anything else is never sent to the IdP's keys. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function authenticate(config: Pick<Config['auth'], 'admin'>, oidc: OidcVerifier | null): RequestHandler {
  const resolve = principalResolver(config, oidc);
  return async (req: Request, res: Response, next: NextFunction) => {
    const token = bearerToken(req.headers.authorization);
    if (!token) throw new UnauthorizedError('missing bearer token');
    res.locals.principal = await resolve(token);
    next();
  };
}

/**
 * Who a presented credential belongs to: a configured admin token, else an OIDC access
 * token. Throws 401 (not accepted), 403 (no admin role) or 503 (identity provider down).
 * The admin API and the console's sign-in both use it.
 */
export function principalResolver(config: Pick<Config['auth'], 'admin'>, oidc: OidcVerifier | null): (token: string) => Promise<Principal> {
  const tokens = new TokenSet<Principal>(
    config.admin.map((a) => ({ token: a.token, principal: { actor: `admin:${a.name}`, role: a.role } })),
  );
  return async (token) => {
    const principal = tokens.match(token);
    if (principal) return principal;
    if (!oidc || !JWT_SHAPE.test(token)) throw new UnauthorizedError('invalid bearer token');
    let verified: Awaited<ReturnType<OidcVerifier['verify']>>;
    try {
      verified = await oidc.verify(token);
    } catch (error) {
      if (error instanceof InvalidOidcTokenError) throw new UnauthorizedError('invalid bearer token');
      if (error instanceof OidcUnavailableError) throw new UnavailableError('identity provider unavailable, retry later', error);
      throw error;
    }
    if (!verified.role) throw new ForbiddenError('token carries no admin role');
    return { actor: `oidc:${verified.subject}`, role: verified.role };
  };
}

/** Writes need an operator. */
export const requireOperator: RequestHandler = (_req, res, next) => {
  if (principalOf(res).role !== 'operator') throw new ForbiddenError('operator role required');
  next();
};
