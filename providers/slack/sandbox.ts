/**
 * Slack emulator: the Web API methods the adapter calls under `/api/{method}` and the SCIM
 * API under `/scim/v1` and `/scim/v2`, on one origin (slack.com/api and api.slack.com/scim
 * in production). Web API methods take form-encoded or JSON POST bodies (or GET query
 * strings), the token as a Bearer header or a `token` parameter, answer HTTP 200 with the
 * `{ ok, error }` envelope, check the token's type and scopes per method (`missing_scope`
 * with `needed`/`provided`, `not_allowed_token_type` for a bot token on admin.* methods) and
 * send `x-oauth-scopes`. Over the limit: 429 with Retry-After in seconds, as Slack does.
 */
import express, { type Request, type Response, type Router } from 'express';
import {
  createSandboxApp,
  listenSandbox,
  requestOrigin,
  type RunningSandbox,
  type SandboxControl,
  type SandboxOptions,
  type SandboxStyle,
} from '../sandbox/kit.ts';
import { SLACK_SANDBOX_BOT_TOKEN, SLACK_SANDBOX_SCIM_TOKEN, SLACK_SANDBOX_TOKEN } from './sandbox-credentials.ts';
import {
  scimErrorJson,
  scimUserJson,
  sessionJson,
  slackSeedTokenSchema,
  slackReactivateSchema,
  slackSeedUserSchema,
  slackSignInSchema,
  SlackState,
  webUserJson,
  type SandboxToken,
  type SandboxUser,
  type ScimVersion,
} from './sandbox-state.ts';

export { SLACK_SANDBOX_BOT_TOKEN, SLACK_SANDBOX_SCIM_TOKEN, SLACK_SANDBOX_TOKEN };
export { SANDBOX_DEFAULT_WORKSPACES, type SlackSeedUser } from './sandbox-state.ts';

export interface SlackSandboxOptions extends SandboxOptions {
  port?: number;
  /** The workspaces an auto-provisioned user belongs to. Default one (`T0SANDBOX1`). */
  workspaces?: string[];
}

type Params = Record<string, unknown>;
type MethodResult = Params | { error: string; extra?: Params };

interface WebMethod {
  /** The scope the token must hold; null for none (auth.test). */
  scope: string | null;
  /** admin.* methods: user tokens only. */
  admin: boolean;
  run(params: Params, token: SandboxToken, control: SandboxControl): MethodResult;
}

const bearer = (req: Request) => /^Bearer (.+)$/i.exec(req.get('authorization') ?? '')?.[1];
const isScim = (req: Request) => req.path.startsWith('/scim/');
const scimVersion = (req: Request): ScimVersion => (req.path.startsWith('/scim/v1/') ? 'v1' : 'v2');
const str = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);

function envelope(res: Response, body: Params, token?: SandboxToken, needed?: string | null): void {
  if (token) res.set('x-oauth-scopes', token.scopes.join(','));
  if (needed) res.set('x-accepted-oauth-scopes', needed);
  res.status(200).json(body);
}

function style(state: SlackState): SandboxStyle {
  return {
    rateLimited(res, retryAfterMs) {
      res.set('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
      if (isScim(res.req)) res.status(429).json(scimErrorJson(scimVersion(res.req), 429, 'Too many requests'));
      else res.status(429).json({ ok: false, error: 'ratelimited' });
    },
    serverError(res) {
      // The Web API reports its own failures inside the envelope; SCIM with a status.
      if (isScim(res.req)) res.status(503).json(scimErrorJson(scimVersion(res.req), 503, 'Service unavailable'));
      else envelope(res, { ok: false, error: 'fatal_error' });
    },
    unauthorized(res) {
      res.status(401).json(scimErrorJson(scimVersion(res.req), 401, 'invalid_authentication'));
    },
    authorized(req) {
      // Web API methods check their token themselves: it may come in the body, parsed by their route.
      if (!isScim(req)) return true;
      const token = state.tokens.get(bearer(req) ?? '');
      return token?.type === 'user' && token.scopes.includes('admin');
    },
  };
}

function webMethods(state: SlackState): Record<string, WebMethod> {
  const user = (id: unknown) => state.users.get(str(id) ?? '');
  return {
    'auth.test': {
      scope: null,
      admin: false,
      run: () => ({ url: 'https://sandbox.slack.example/', team: 'Sandbox Org', user_id: 'W0SBADMIN' }),
    },
    'users.lookupByEmail': {
      scope: 'users:read.email',
      admin: false,
      run(params, _token, control) {
        const email = str(params.email);
        if (!email) return { error: 'invalid_arguments' };
        let found = state.byEmail(email);
        if (!found && control.autoProvision) found = state.create(slackSeedUserSchema.parse({ email }));
        return found ? { user: webUserJson(found) } : { error: 'users_not_found' };
      },
    },
    'users.info': {
      scope: 'users:read',
      admin: false,
      run(params) {
        const found = user(params.user);
        return found ? { user: webUserJson(found) } : { error: 'user_not_found' };
      },
    },
    'admin.users.session.reset': {
      scope: 'admin.users:write',
      admin: true,
      run(params, _token, control) {
        const found = user(params.user_id);
        if (!found) return { error: 'user_not_found' };
        if (control.lie()) return {};
        if (found.sessions.length > 0) {
          found.sessions = [];
          control.countWrite('session_reset', found.id);
        }
        return {};
      },
    },
    'admin.users.session.list': {
      scope: 'admin.users:read',
      admin: true,
      run(params) {
        const userId = str(params.user_id);
        const teamId = str(params.team_id);
        // Slack's rule: user_id and team_id go together (or neither, for every session).
        if (Boolean(userId) !== Boolean(teamId)) return { error: 'invalid_arguments' };
        const users = userId ? [user(userId)].filter((u): u is SandboxUser => u !== undefined) : [...state.users.values()];
        const limit = Math.min(1000, Math.max(1, Number(params.limit ?? 1000) || 1000));
        const sessions = users.flatMap((u) => u.sessions.filter((s) => !teamId || s.teamId === teamId).map((s) => sessionJson(u, s)));
        return { active_sessions: sessions.slice(0, limit), response_metadata: { next_cursor: sessions.length > limit ? 'more' : '' } };
      },
    },
    'admin.users.remove': {
      scope: 'admin.users:write',
      admin: true,
      run(params, _token, control) {
        const teamId = str(params.team_id);
        if (!teamId) return { error: 'invalid_arguments' };
        const found = user(params.user_id);
        // A user who is not (or no longer) in the workspace is not found there (check against Slack).
        if (!found?.teams.includes(teamId)) return { error: 'user_not_found' };
        if (control.lie()) return {};
        found.teams = found.teams.filter((t) => t !== teamId);
        found.sessions = found.sessions.filter((s) => s.teamId !== teamId);
        control.countWrite('remove_from_workspace', found.id);
        return {};
      },
    },
  };
}

function webApi(state: SlackState, control: SandboxControl): Router {
  const methods = webMethods(state);
  const api = express.Router();
  api.use(express.urlencoded({ extended: false, limit: '1mb' }));
  api.all('/:method', (req, res) => {
    if (req.method !== 'POST' && req.method !== 'GET') return void res.status(405).end();
    const params: Params = { ...(req.query as Params), ...((req.body ?? {}) as Params) };
    const name = req.params.method;
    const method = Object.hasOwn(methods, name) ? methods[name] : undefined;
    if (!method) return envelope(res, { ok: false, error: 'unknown_method' });
    // A JSON body cannot carry the token at Slack: only the header counts then.
    const presented = bearer(req) ?? (req.is('application/json') ? undefined : str(params.token));
    if (!presented) return envelope(res, { ok: false, error: 'not_authed' });
    const token = state.tokens.get(presented);
    if (!token) return envelope(res, { ok: false, error: 'invalid_auth' });
    if (method.admin && token.type !== 'user') return envelope(res, { ok: false, error: 'not_allowed_token_type' }, token);
    if (method.scope && !token.scopes.includes(method.scope)) {
      const missing = { ok: false, error: 'missing_scope', needed: method.scope, provided: token.scopes.join(',') };
      return envelope(res, missing, token, method.scope);
    }
    const result = method.run(params, token, control);
    if (typeof result.error === 'string') return envelope(res, { ok: false, error: result.error }, token, method.scope);
    envelope(res, { ok: true, ...result }, token, method.scope);
  });
  return api;
}

function scimApi(state: SlackState, control: SandboxControl, version: ScimVersion): Router {
  const scim = express.Router();
  const userOr404 = (req: Request, res: Response): SandboxUser | undefined => {
    const found = state.users.get(String(req.params.id));
    if (!found) res.status(404).json(scimErrorJson(version, 404, 'Resource not found'));
    return found;
  };
  const location = (req: Request, user: SandboxUser) => `${requestOrigin(req)}/scim/${version}/Users/${user.id}`;

  scim.get('/Users', (req, res) => {
    const count = Math.min(1000, Math.max(0, Number(req.query.count ?? 100) || 0));
    const users = [...state.users.values()];
    const resources = users.slice(0, count).map((u) => scimUserJson(u, version, location(req, u)));
    const list = { totalResults: users.length, itemsPerPage: resources.length, startIndex: 1, Resources: resources };
    res.json(
      version === 'v1'
        ? { schemas: ['urn:scim:schemas:core:1.0'], ...list }
        : { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], ...list },
    );
  });

  scim.get('/Users/:id', (req, res) => {
    const found = userOr404(req, res);
    if (found) res.json(scimUserJson(found, version, location(req, found)));
  });

  scim.patch('/Users/:id', (req, res) => {
    const found = userOr404(req, res);
    if (!found) return;
    const active = requestedActive(version, req.body);
    if (active === undefined) return void res.status(400).json(scimErrorJson(version, 400, 'invalid_patch_body'));
    if (!active && !found.deleted && !control.lie()) {
      state.deactivate(found);
      control.countWrite('scim_deactivate', found.id);
    } else if (active && found.deleted && !control.lie()) {
      found.deleted = false;
    }
    res.json(scimUserJson(found, version, location(req, found)));
  });

  scim.delete('/Users/:id', (req, res) => {
    const found = userOr404(req, res);
    if (!found) return;
    if (!control.lie()) {
      // Slack deactivates on DELETE; a second DELETE still counts, so a repeat shows in the write log.
      state.deactivate(found);
      control.countWrite('scim_delete', found.id);
    }
    res.status(204).end();
  });
  return scim;
}

/**
 * The `active` a PATCH body sets, or undefined when the body is not one Slack takes: SCIM 1.1
 * `{ schemas: [core 1.0], active }`; SCIM 2.0 a PatchOp whose `replace` names `active` by
 * path or in a value object.
 */
function requestedActive(version: ScimVersion, body: unknown): boolean | undefined {
  const b = (body ?? {}) as { schemas?: unknown; active?: unknown; Operations?: unknown };
  const schemas = Array.isArray(b.schemas) ? b.schemas : [];
  if (version === 'v1') return schemas.includes('urn:scim:schemas:core:1.0') && typeof b.active === 'boolean' ? b.active : undefined;
  if (!schemas.includes('urn:ietf:params:scim:api:messages:2.0:PatchOp') || !Array.isArray(b.Operations)) return undefined;
  let active: boolean | undefined;
  for (const op of b.Operations as Array<{ op?: unknown; path?: unknown; value?: unknown }>) {
    if (typeof op.op !== 'string' || op.op.toLowerCase() !== 'replace') return undefined;
    const value = op.path === 'active' ? op.value : op.path === undefined ? (op.value as { active?: unknown } | null)?.active : undefined;
    if (typeof value !== 'boolean') return undefined;
    active = value;
  }
  return active;
}

function controlRoutes(state: SlackState) {
  return (router: Router) => {
    router.post('/users', (req, res) => {
      const parsed = slackSeedUserSchema.safeParse(req.body ?? {});
      if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
      if (state.byEmail(parsed.data.email)) return void res.status(409).json({ error: 'email exists' });
      const user = state.create(parsed.data);
      res.status(201).json({ ...webUserJson(user), sessions: user.sessions });
    });
    router.get('/users/:id', (req, res) => {
      const user = state.users.get(req.params.id);
      if (!user) return void res.status(404).json({ error: 'no such user' });
      res.json({ ...webUserJson(user), sessions: user.sessions });
    });
    // Drift (issue 30): what an administrator does behind the daemon's back after an offboarding.
    router.post('/users/:id/reactivate', (req, res) => {
      const user = state.users.get(req.params.id);
      const parsed = slackReactivateSchema.safeParse(req.body ?? {});
      if (!user) return void res.status(404).json({ error: 'no such user' });
      if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
      state.reactivate(user, parsed.data.teams);
      res.json({ ...webUserJson(user), sessions: user.sessions });
    });
    router.post('/users/:id/sessions', (req, res) => {
      const user = state.users.get(req.params.id);
      const parsed = slackSignInSchema.safeParse(req.body ?? {});
      if (!user) return void res.status(404).json({ error: 'no such user' });
      if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
      const session = state.signIn(user, parsed.data.teamId);
      if (!session) return void res.status(409).json({ error: 'the user is deactivated or not in that workspace' });
      res.status(201).json(sessionJson(user, session));
    });
    router.post('/tokens', (req, res) => {
      const parsed = slackSeedTokenSchema.safeParse(req.body ?? {});
      if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
      state.tokens.set(parsed.data.token, { type: parsed.data.type, scopes: parsed.data.scopes });
      res.status(204).end();
    });
  };
}

/** Starts the Slack emulator on 127.0.0.1 (a random port unless given). */
export async function startSlackSandbox(options: SlackSandboxOptions = {}): Promise<RunningSandbox> {
  const state = new SlackState(options.workspaces);
  const sandbox = createSandboxApp(
    style(state),
    options,
    (app, control) => {
      app.use('/api', webApi(state, control));
      app.use('/scim/v1', scimApi(state, control, 'v1'));
      app.use('/scim/v2', scimApi(state, control, 'v2'));
    },
    controlRoutes(state),
  );
  return listenSandbox(sandbox, { port: options.port });
}
