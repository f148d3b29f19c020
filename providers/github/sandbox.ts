/**
 * GitHub emulator: one organization, with the REST endpoints the adapter calls (the
 * organization, memberships, outside collaborators, SAML SSO credential authorizations) and
 * the GraphQL query it sends for SAML identities, on one origin as `baseUrl`. As at GitHub:
 * `Authorization: token …` (or `bearer …`), errors as `{ message, documentation_url, status }`,
 * 401 "Bad credentials", 404 for a login that is not a member, and rate limits as 403 with
 * `retry-after` (a secondary limit, the default) or with `x-ratelimit-remaining: 0` and
 * `x-ratelimit-reset` (the primary limit; `rateLimitStyle: 'primary'`). A second token may
 * read but not write: its writes answer 403 with `x-accepted-github-permissions`.
 */
import { randomBytes } from 'node:crypto';
import type { Request, Response, Router } from 'express';
import express from 'express';
import { z } from 'zod';
import {
  createSandboxApp,
  listenSandbox,
  requestOrigin,
  type RunningSandbox,
  type SandboxControl,
  type SandboxOptions,
  type SandboxStyle,
} from '../sandbox/kit.ts';
import { GITHUB_SANDBOX_ORG, GITHUB_SANDBOX_READ_ONLY_TOKEN, GITHUB_SANDBOX_TOKEN } from './sandbox-credentials.ts';

export { GITHUB_SANDBOX_ORG, GITHUB_SANDBOX_READ_ONLY_TOKEN, GITHUB_SANDBOX_TOKEN };

export type RateLimitStyle = 'secondary' | 'primary';

export interface GitHubSandboxOptions extends SandboxOptions {
  port?: number;
  /** How rate limits are answered. Default `secondary` (403 + retry-after). */
  rateLimitStyle?: RateLimitStyle;
  /** Whether the organization has SAML SSO of its own. Default true. */
  samlEnabled?: boolean;
}

const DOCS = 'https://docs.github.com/rest';
/** The organization owner the sandbox tokens belong to. */
const GITHUB_SANDBOX_OWNER = 'deprovisiond-bot';

interface SandboxCredential {
  credential_id: number;
  credential_type: 'personal access token' | 'SSH key';
  credential_authorized_at: string;
  credential_accessed_at: string | null;
  token_last_eight: string | null;
  fingerprint: string | null;
  scopes: string[];
  authorized_credential_id: number;
  authorized_credential_title: string | null;
  authorized_credential_note: string | null;
  authorized_credential_expires_at: string | null;
}

interface SandboxUser {
  login: string;
  id: number;
  /** The SAML identity's NameID; null when the user has no SAML identity in the organization. */
  nameId: string | null;
  /** Whether the SAML identity is linked to this GitHub account. */
  linked: boolean;
  membership: { state: 'active' | 'pending'; role: 'member' | 'admin' } | null;
  outsideCollaborator: boolean;
  credentials: SandboxCredential[];
}

/** Body of `POST /__sandbox/users/{login}/membership`: drift, the login back in the organization. */
const membershipSchema = z
  .object({ state: z.enum(['active', 'pending']).default('active'), role: z.enum(['member', 'admin']).default('member') })
  .strict();

/** Body of `POST /__sandbox/users/{login}/credentials`: drift, a credential authorized for SSO again. */
const credentialSchema = z.object({ type: z.enum(['personal access token', 'SSH key']).default('personal access token') }).strict();

/** Body of `POST /__sandbox/users`. */
export const githubSeedUserSchema = z.object({
  login: z.string().regex(/^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/),
  nameId: z.string().min(1).nullable().default(null),
  linked: z.boolean().default(true),
  membership: z.enum(['active', 'pending']).nullable().default('active'),
  role: z.enum(['member', 'admin']).default('member'),
  outsideCollaborator: z.boolean().default(false),
  credentials: z.array(z.enum(['personal access token', 'SSH key'])).default(['personal access token', 'SSH key']),
});
export type GitHubSeedUser = z.input<typeof githubSeedUserSchema>;

const iso = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

class GitHubState {
  readonly users = new Map<string, SandboxUser>();
  rateLimitStyle: RateLimitStyle;
  samlEnabled: boolean;
  private nextUserId = 5_830_000;
  private nextCredentialId = 161_000;

  constructor(options: GitHubSandboxOptions) {
    this.rateLimitStyle = options.rateLimitStyle ?? 'secondary';
    this.samlEnabled = options.samlEnabled ?? true;
  }

  create(input: z.output<typeof githubSeedUserSchema>): SandboxUser {
    const user: SandboxUser = {
      login: input.login,
      id: this.nextUserId++,
      nameId: input.nameId,
      linked: input.linked,
      membership: input.membership ? { state: input.membership, role: input.role } : null,
      outsideCollaborator: input.outsideCollaborator,
      credentials: input.credentials.map((type) => this.credential(type)),
    };
    this.users.set(user.login.toLowerCase(), user);
    return user;
  }

  private credential(type: SandboxCredential['credential_type']): SandboxCredential {
    const id = this.nextCredentialId++;
    const pat = type === 'personal access token';
    return {
      credential_id: id,
      credential_type: type,
      credential_authorized_at: iso(),
      credential_accessed_at: null,
      token_last_eight: pat ? randomBytes(4).toString('hex') : null,
      fingerprint: pat ? null : `SHA256:${randomBytes(16).toString('base64').replace(/=+$/, '')}`,
      scopes: pat ? ['repo', 'read:org'] : [],
      authorized_credential_id: id + 900_000,
      authorized_credential_title: pat ? null : 'laptop',
      authorized_credential_note: pat ? 'ci token' : null,
      authorized_credential_expires_at: null,
    };
  }

  /** Drift (issue 30): the user authorizes a credential for the organization's SSO again. */
  authorize(user: SandboxUser, type: SandboxCredential['credential_type']): SandboxCredential {
    const credential = this.credential(type);
    user.credentials.push(credential);
    return credential;
  }

  /** What autoProvision creates: an active member with a token and an SSH key authorized for SSO. */
  provision(login: string, nameId: string | null): SandboxUser {
    let candidate = login;
    for (let n = 2; this.users.has(candidate.toLowerCase()); n += 1) candidate = `${login.slice(0, 35)}-${n}`;
    return this.create(githubSeedUserSchema.parse({ login: candidate, nameId }));
  }

  byLogin(login: string): SandboxUser | undefined {
    return this.users.get(login.toLowerCase());
  }

  /** GitHub's userName filter: the NameID (or SCIM userName), compared without case. */
  byNameId(value: string): SandboxUser[] {
    const wanted = value.toLowerCase();
    return [...this.users.values()].filter((u) => u.nameId?.toLowerCase() === wanted);
  }

  credentialById(id: number): { user: SandboxUser; index: number } | null {
    for (const user of this.users.values()) {
      const index = user.credentials.findIndex((c) => c.credential_id === id);
      if (index >= 0) return { user, index };
    }
    return null;
  }
}

/** A login GitHub would accept, from a NameID such as an email. */
function loginFrom(value: string): string {
  const local = value.split('@')[0] ?? value;
  const cleaned = local
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 39)
    .replace(/-+$/, '');
  return cleaned === '' ? 'user' : cleaned;
}

function githubError(res: Response, status: number, message: string, docs = DOCS): void {
  res.status(status).json({ message, documentation_url: docs, status: String(status) });
}

function bearer(req: Request): string | null {
  return /^(?:token|bearer) (.+)$/i.exec(req.get('authorization') ?? '')?.[1] ?? null;
}

function style(state: GitHubState): SandboxStyle {
  return {
    rateLimited(res, retryAfterMs) {
      const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
      if (state.rateLimitStyle === 'primary') {
        res.set({
          'x-ratelimit-limit': '5000',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-used': '5000',
          'x-ratelimit-reset': String(Math.ceil((Date.now() + retryAfterMs) / 1000)),
          'x-ratelimit-resource': res.req.path === '/graphql' ? 'graphql' : 'core',
        });
        return githubError(res, 403, 'API rate limit exceeded for user ID 1.', `${DOCS}/overview/rate-limits-for-the-rest-api`);
      }
      res.set({ 'retry-after': String(seconds), 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '4999' });
      githubError(
        res,
        403,
        'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
        `${DOCS}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits`,
      );
    },
    serverError(res) {
      githubError(res, 502, 'Server Error');
    },
    unauthorized(res) {
      githubError(res, 401, 'Bad credentials');
    },
    authorized(req) {
      const token = bearer(req);
      return token === GITHUB_SANDBOX_TOKEN || token === GITHUB_SANDBOX_READ_ONLY_TOKEN;
    },
  };
}

/** The read-only token's writes are refused the way GitHub refuses a token without the permission. */
function refusedWrite(req: Request, res: Response, permission: string): boolean {
  if (bearer(req) !== GITHUB_SANDBOX_READ_ONLY_TOKEN) return false;
  res.set({ 'x-accepted-github-permissions': permission, 'x-accepted-oauth-scopes': 'admin:org' });
  githubError(res, 403, 'Resource not accessible by personal access token');
  return true;
}

/** The one query the emulator answers (whitespace aside): the adapter's SAML identity look-up. */
const SAML_QUERY =
  /^query \(\$(\w+): String!, \$(\w+): String!\) \{ organization\(login: \$(\w+)\) \{ samlIdentityProvider \{ externalIdentities\(first: (\d+), userName: \$(\w+)\) \{ nodes \{ samlIdentity \{ nameId username \} user \{ login \} \} \} \} \} \}$/;

function graphql(state: GitHubState, control: SandboxControl) {
  return (req: Request, res: Response) => {
    const { query, variables } = (req.body ?? {}) as { query?: unknown; variables?: Record<string, unknown> };
    const normalised = typeof query === 'string' ? query.replace(/\s+/g, ' ').trim() : '';
    const m = SAML_QUERY.exec(normalised);
    if (!m)
      return void res.json({ errors: [{ message: 'sandbox: only the SAML identity query of the deprovisiond adapter is emulated' }] });
    const [, declaredA, declaredB, orgVar, first, userNameVar] = m;
    const declared = new Set([declaredA, declaredB]);
    const org = variables?.[orgVar!];
    const userName = variables?.[userNameVar!];
    if (!declared.has(orgVar) || !declared.has(userNameVar) || typeof org !== 'string' || typeof userName !== 'string') {
      return void res.json({
        errors: [
          {
            message: 'Variable $userName of type String! was provided invalid value',
            extensions: { code: 'argumentLiteralsIncompatible' },
          },
        ],
      });
    }
    if (org.toLowerCase() !== GITHUB_SANDBOX_ORG) {
      return void res.json({
        data: { organization: null },
        errors: [
          { type: 'NOT_FOUND', path: ['organization'], message: `Could not resolve to an Organization with the login of '${org}'.` },
        ],
      });
    }
    if (!state.samlEnabled) return void res.json({ data: { organization: { samlIdentityProvider: null } } });
    let users = state.byNameId(userName);
    if (users.length === 0 && control.autoProvision) users = [state.provision(loginFrom(userName), userName)];
    const nodes = users.slice(0, Number(first)).map((u) => ({
      samlIdentity: { nameId: u.nameId, username: null },
      user: u.linked ? { login: u.login } : null,
    }));
    res.json({ data: { organization: { samlIdentityProvider: { externalIdentities: { nodes } } } } });
  };
}

/** `per_page` (at most 100) and `page` (from 1), as GitHub reads them, with a Link header to the next page. */
function page<T>(req: Request, res: Response, items: T[]): T[] {
  const perPage = Math.min(100, Math.max(1, Number(req.query.per_page ?? 30) || 30));
  const pageNo = Math.max(1, Number(req.query.page ?? 1) || 1);
  const slice = items.slice((pageNo - 1) * perPage, pageNo * perPage);
  if (pageNo * perPage < items.length) {
    const next = new URL(`${requestOrigin(req)}${req.originalUrl}`);
    next.searchParams.set('page', String(pageNo + 1));
    res.set('link', `<${next.toString()}>; rel="next"`);
  }
  return slice;
}

function simpleUser(req: Request, user: SandboxUser) {
  return { login: user.login, id: user.id, type: 'User', site_admin: false, url: `${requestOrigin(req)}/users/${user.login}` };
}

function routes(state: GitHubState) {
  return (app: express.Express, control: SandboxControl) => {
    app.post('/graphql', graphql(state, control));

    const orgs = express.Router({ mergeParams: true });
    orgs.use((req, res, next) => {
      if ((req.params as { org?: string }).org?.toLowerCase() !== GITHUB_SANDBOX_ORG) return githubError(res, 404, 'Not Found');
      next();
    });

    orgs.get('/', (req, res) => {
      res.json({ login: GITHUB_SANDBOX_ORG, id: 9_100_001, url: `${requestOrigin(req)}/orgs/${GITHUB_SANDBOX_ORG}`, type: 'Organization' });
    });

    orgs.get('/memberships/:username', (req, res) => {
      let user = state.byLogin(req.params.username);
      if (!user && control.autoProvision) user = state.provision(req.params.username, null);
      if (!user?.membership) return githubError(res, 404, 'Not Found', `${DOCS}/orgs/members#get-organization-membership-for-a-user`);
      res.json({
        url: `${requestOrigin(req)}/orgs/${GITHUB_SANDBOX_ORG}/memberships/${user.login}`,
        state: user.membership.state,
        role: user.membership.role,
        organization_url: `${requestOrigin(req)}/orgs/${GITHUB_SANDBOX_ORG}`,
        organization: { login: GITHUB_SANDBOX_ORG, id: 9_100_001 },
        user: simpleUser(req, user),
      });
    });

    orgs.delete('/memberships/:username', (req, res) => {
      if (refusedWrite(req, res, 'members=write')) return;
      const user = state.byLogin(req.params.username);
      if (!user?.membership) return githubError(res, 404, 'Not Found', `${DOCS}/orgs/members#remove-organization-membership-for-a-user`);
      if (control.lie()) return void res.status(204).end();
      user.membership = null;
      control.countWrite('remove_membership', user.login);
      res.status(204).end();
    });

    orgs.get('/outside_collaborators', (req, res) => {
      const collaborators = [...state.users.values()].filter((u) => u.outsideCollaborator);
      res.json(page(req, res, collaborators).map((u) => simpleUser(req, u)));
    });

    orgs.delete('/outside_collaborators/:username', (req, res) => {
      if (refusedWrite(req, res, 'members=write')) return;
      const user = state.byLogin(req.params.username);
      if (!user) return githubError(res, 404, 'Not Found');
      if (user.membership?.state === 'active') {
        return githubError(res, 422, 'You cannot specify an organization member to remove as an outside collaborator.');
      }
      if (!user.outsideCollaborator || control.lie()) return void res.status(204).end();
      user.outsideCollaborator = false;
      control.countWrite('remove_outside_collaborator', user.login);
      res.status(204).end();
    });

    orgs.get('/credential-authorizations', (req, res) => {
      const login = typeof req.query.login === 'string' ? req.query.login.toLowerCase() : null;
      const users = [...state.users.values()].filter((u) => login === null || u.login.toLowerCase() === login);
      const credentials = users.flatMap((u) => u.credentials.map((c) => ({ login: u.login, ...c })));
      res.json(page(req, res, credentials));
    });

    orgs.delete('/credential-authorizations/:credentialId', (req, res) => {
      if (refusedWrite(req, res, 'organization_administration=write')) return;
      const found = state.credentialById(Number(req.params.credentialId));
      if (!found) return githubError(res, 404, 'Not Found', `${DOCS}/orgs/orgs#remove-a-saml-sso-authorization-for-an-organization`);
      if (control.lie()) return void res.status(204).end();
      found.user.credentials.splice(found.index, 1);
      control.countWrite('revoke_credential_authorization', found.user.login);
      res.status(204).end();
    });

    app.use('/orgs/:org', orgs);

    // The token's own user: an owner of the organization (both sandbox tokens belong to it).
    app.get('/user/memberships/orgs/:org', (req, res) => {
      if (req.params.org.toLowerCase() !== GITHUB_SANDBOX_ORG) return githubError(res, 404, 'Not Found');
      res.json({
        url: `${requestOrigin(req)}/orgs/${GITHUB_SANDBOX_ORG}/memberships/${GITHUB_SANDBOX_OWNER}`,
        state: 'active',
        role: 'admin',
        organization_url: `${requestOrigin(req)}/orgs/${GITHUB_SANDBOX_ORG}`,
        organization: { login: GITHUB_SANDBOX_ORG, id: 9_100_001 },
        user: { login: GITHUB_SANDBOX_OWNER, id: 5_829_999, type: 'User' },
      });
    });
  };
}

function controlRoutes(state: GitHubState) {
  return (router: Router) => {
    router.post('/users', (req, res) => {
      const parsed = githubSeedUserSchema.safeParse(req.body ?? {});
      if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
      if (state.byLogin(parsed.data.login)) return void res.status(409).json({ error: 'login exists' });
      res.status(201).json(state.create(parsed.data));
    });
    router.get('/users/:login', (req, res) => {
      const user = state.byLogin(req.params.login);
      if (!user) return void res.status(404).json({ error: 'no such user' });
      res.json(user);
    });
    // Drift (issue 30): an owner re-invites the leaver, or the leaver authorizes a token again.
    router.post('/users/:login/membership', (req, res) => {
      const user = state.byLogin(req.params.login);
      const parsed = membershipSchema.safeParse(req.body ?? {});
      if (!user) return void res.status(404).json({ error: 'no such user' });
      if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
      user.membership = { state: parsed.data.state, role: parsed.data.role };
      res.json(user);
    });
    router.post('/users/:login/credentials', (req, res) => {
      const user = state.byLogin(req.params.login);
      const parsed = credentialSchema.safeParse(req.body ?? {});
      if (!user) return void res.status(404).json({ error: 'no such user' });
      if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
      res.status(201).json(state.authorize(user, parsed.data.type));
    });
    router.post('/rate-limit-style', (req, res) => {
      const parsed = z.object({ style: z.enum(['secondary', 'primary']) }).safeParse(req.body ?? {});
      if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
      state.rateLimitStyle = parsed.data.style;
      res.json({ style: state.rateLimitStyle });
    });
    router.post('/saml', (req, res) => {
      state.samlEnabled = Boolean((req.body as { enabled?: unknown } | undefined)?.enabled);
      res.json({ enabled: state.samlEnabled });
    });
  };
}

/** A running GitHub emulator, with its state reachable in process for tests. */
export interface RunningGitHubSandbox extends RunningSandbox {
  /** Seeds a user (what `POST /__sandbox/users` does). */
  seedUser(input: GitHubSeedUser): { login: string; credentialIds: number[] };
  /** The user as the emulator holds it, or undefined. */
  user(login: string): Readonly<SandboxUser> | undefined;
  setRateLimitStyle(style: RateLimitStyle): void;
  setSamlEnabled(enabled: boolean): void;
}

/** Starts the GitHub emulator on 127.0.0.1 (a random port unless given). */
export async function startGitHubSandbox(options: GitHubSandboxOptions = {}): Promise<RunningGitHubSandbox> {
  const state = new GitHubState(options);
  const sandbox = createSandboxApp(style(state), options, routes(state), controlRoutes(state));
  const running = await listenSandbox(sandbox, { port: options.port });
  return {
    ...running,
    seedUser(input) {
      const user = state.create(githubSeedUserSchema.parse(input));
      return { login: user.login, credentialIds: user.credentials.map((c) => c.credential_id) };
    },
    user: (login) => state.byLogin(login),
    setRateLimitStyle(style) {
      state.rateLimitStyle = style;
    },
    setSamlEnabled(enabled) {
      state.samlEnabled = enabled;
    },
  };
}
