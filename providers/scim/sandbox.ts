/**
 * An emulator of a SCIM 2.0 target application (RFC 7643/7644), written on its own and
 * independent of the daemon's inbound SCIM server in src/intake: the two must not share
 * a bug that each would then hide in the other's tests.
 *
 * It serves `/scim/v2/Users` (filter with eq/ne/co/sw/pr, and/or/not, parentheses and
 * value paths such as `emails[value eq "..."]`; GET, PATCH in the path and value-object
 * forms, DELETE), an OAuth client-credentials token endpoint at `/oauth/token`, SCIM
 * error bodies, and 429 + Retry-After (seconds) when rate limited. Behaviours a target
 * may have are switchable: deprovisioned users disappear (`deprovision: 'gone'`, as
 * GitHub org SCIM and PagerDuty), or the target ignores filters it does not support.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import express, { type Response, type Router } from 'express';
import { z } from 'zod';
import {
  createSandboxApp,
  listenSandbox,
  type RunningSandbox,
  type SandboxControl,
  type SandboxOptions,
  type SandboxStyle,
  requestOrigin,
} from '../sandbox/kit.ts';
import { SCIM_SANDBOX_BASE_PATH, SCIM_SANDBOX_TOKEN, SCIM_SANDBOX_CLIENT_ID, SCIM_SANDBOX_CLIENT_SECRET } from './sandbox-credentials.ts';

export { SCIM_SANDBOX_BASE_PATH, SCIM_SANDBOX_TOKEN, SCIM_SANDBOX_CLIENT_ID, SCIM_SANDBOX_CLIENT_SECRET };

const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
/** RFC 7643 section 4.3: the enterprise User extension, which carries `organization`. */
const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export interface ScimSandboxBehaviour {
  /** What deactivation does: `inactive` keeps the user with active:false; `gone` removes it (404). Default `inactive`. */
  deprovision: 'inactive' | 'gone';
  /** Answer every list with all users, as a target that does not support a filter may. Default false. */
  ignoreFilters: boolean;
}

export interface ScimSandboxOptions extends SandboxOptions, Partial<ScimSandboxBehaviour> {
  port?: number;
  /** Lifetime of issued OAuth tokens. Default 3600 s. */
  tokenLifetimeSeconds?: number;
}

interface SandboxUser {
  id: string;
  userName: string;
  externalId: string | null;
  emails: string[];
  active: boolean;
  /** The enterprise extension's `organization`: a client's people share it. */
  organization: string | null;
  created: string;
  lastModified: string;
}

/** Body of `POST /__sandbox/users`. */
export const scimSeedUserSchema = z.object({
  userName: z.string().min(1),
  externalId: z.string().min(1).optional(),
  emails: z.array(z.string().min(1)).default([]),
  active: z.boolean().default(true),
  organization: z.string().min(1).max(256).optional(),
});
export type ScimSeedUser = z.input<typeof scimSeedUserSchema>;

const behaviourSchema = z.object({
  deprovision: z.enum(['inactive', 'gone']).optional(),
  ignoreFilters: z.boolean().optional(),
});

const iso = () => new Date().toISOString();

function scimJson(res: Response, status: number, body: unknown): void {
  res.status(status).type('application/scim+json').send(JSON.stringify(body));
}

function scimError(res: Response, status: number, detail: string, scimType?: string): void {
  scimJson(res, status, { schemas: [ERROR_SCHEMA], status: String(status), ...(scimType ? { scimType } : {}), detail });
}

// ---------------------------------------------------------------------------------------
// Filters: a small recursive-descent parser of RFC 7644 section 3.4.2.2, enough for the
// lookups real clients send and for the injections a careless client would let through.

type Predicate = (resource: Record<string, unknown>) => boolean;

class FilterSyntaxError extends Error {}

/** Attributes compared case-sensitively (RFC 7643: `caseExact: true`); everything else is case-insensitive. */
const CASE_EXACT = new Set(['id', 'externalid']);

type Token = { kind: 'open' | 'close' | 'lbracket' | 'rbracket' } | { kind: 'string'; value: string } | { kind: 'word'; value: string };

function tokenize(filter: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:(\()|(\))|(\[)|(\])|("(?:[^"\\]|\\.)*")|([A-Za-z][\w.:$-]*)|(\S))/y;
  let match: RegExpExecArray | null;
  while (re.lastIndex < filter.length && (match = re.exec(filter)) !== null) {
    if (match[1]) tokens.push({ kind: 'open' });
    else if (match[2]) tokens.push({ kind: 'close' });
    else if (match[3]) tokens.push({ kind: 'lbracket' });
    else if (match[4]) tokens.push({ kind: 'rbracket' });
    else if (match[5]) {
      let value: unknown;
      try {
        value = JSON.parse(match[5]);
      } catch {
        throw new FilterSyntaxError('bad string literal');
      }
      tokens.push({ kind: 'string', value: String(value) });
    } else if (match[6]) tokens.push({ kind: 'word', value: match[6] });
    else if (match[7]) throw new FilterSyntaxError(`unexpected character ${JSON.stringify(match[7])}`);
    else break;
  }
  return tokens;
}

function valuesAt(resource: Record<string, unknown>, path: string): unknown[] {
  // A fully qualified name (RFC 7644 section 3.10): `urn:…:User:attribute`, its URN holding dots ("2.0").
  if (/^urn:/i.test(path)) {
    const cut = path.lastIndexOf(':');
    const schema = path.slice(0, cut).toLowerCase();
    const rest = path.slice(cut + 1);
    if (schema === USER_SCHEMA.toLowerCase()) return valuesAt(resource, rest);
    const key = Object.keys(resource).find((k) => k.toLowerCase() === schema);
    const extension = key === undefined ? undefined : resource[key];
    return extension && typeof extension === 'object' ? valuesAt(extension as Record<string, unknown>, rest) : [];
  }
  const [head = '', ...rest] = path.split('.');
  const key = Object.keys(resource).find((k) => k.toLowerCase() === head.toLowerCase());
  const value = key === undefined ? undefined : resource[key];
  if (value === undefined || value === null) return [];
  const items = Array.isArray(value) ? value : [value];
  if (rest.length === 0) return items;
  return items.flatMap((item) => (item && typeof item === 'object' ? valuesAt(item as Record<string, unknown>, rest.join('.')) : []));
}

function compare(op: string, actual: unknown, expected: string | boolean | null, caseExact: boolean): boolean {
  if (typeof expected === 'boolean' || expected === null) {
    const equal = actual === expected;
    if (op === 'eq') return equal;
    if (op === 'ne') return !equal;
    throw new FilterSyntaxError(`operator ${op} needs a string`);
  }
  if (typeof actual !== 'string') return op === 'ne';
  const a = caseExact ? actual : actual.toLowerCase();
  const e = caseExact ? expected : expected.toLowerCase();
  switch (op) {
    case 'eq':
      return a === e;
    case 'ne':
      return a !== e;
    case 'co':
      return a.includes(e);
    case 'sw':
      return a.startsWith(e);
    case 'ew':
      return a.endsWith(e);
    default:
      throw new FilterSyntaxError(`unsupported operator ${op}`);
  }
}

export function parseScimFilter(filter: string): Predicate {
  const tokens = tokenize(filter);
  let at = 0;
  const peek = () => tokens[at];
  const isWord = (word: string) => {
    const t = peek();
    return t?.kind === 'word' && t.value.toLowerCase() === word;
  };
  const expect = (kind: Token['kind']) => {
    if (peek()?.kind !== kind) throw new FilterSyntaxError(`expected ${kind}`);
    at += 1;
  };

  const parseOr = (): Predicate => {
    let left = parseAnd();
    while (isWord('or')) {
      at += 1;
      const l = left;
      const r = parseAnd();
      left = (res) => l(res) || r(res);
    }
    return left;
  };
  const parseAnd = (): Predicate => {
    let left = parseNot();
    while (isWord('and')) {
      at += 1;
      const l = left;
      const r = parseNot();
      left = (res) => l(res) && r(res);
    }
    return left;
  };
  const parseNot = (): Predicate => {
    if (isWord('not')) {
      at += 1;
      expect('open');
      const inner = parseOr();
      expect('close');
      return (res) => !inner(res);
    }
    return parseAtom();
  };
  const parseAtom = (): Predicate => {
    const t = peek();
    if (t?.kind === 'open') {
      at += 1;
      const inner = parseOr();
      expect('close');
      return inner;
    }
    if (t?.kind !== 'word') throw new FilterSyntaxError('expected an attribute');
    at += 1;
    const path = t.value;
    if (peek()?.kind === 'lbracket') {
      at += 1;
      const inner = parseOr();
      expect('rbracket');
      return (res) => valuesAt(res, path).some((v) => v !== null && typeof v === 'object' && inner(v as Record<string, unknown>));
    }
    const opToken = peek();
    if (opToken?.kind !== 'word') throw new FilterSyntaxError('expected an operator');
    at += 1;
    const op = opToken.value.toLowerCase();
    if (op === 'pr') return (res) => valuesAt(res, path).some((v) => v !== '' && v !== null);
    const valueToken = peek();
    let expected: string | boolean | null;
    if (valueToken?.kind === 'string') expected = valueToken.value;
    else if (valueToken?.kind === 'word' && /^(true|false|null)$/i.test(valueToken.value)) {
      expected = valueToken.value.toLowerCase() === 'null' ? null : valueToken.value.toLowerCase() === 'true';
    } else throw new FilterSyntaxError('expected a value');
    at += 1;
    const caseExact = CASE_EXACT.has(path.toLowerCase());
    compare(op, '', expected, caseExact); // rejects an unsupported operator before any user is seen
    return (res) => {
      const values = valuesAt(res, path);
      return op === 'ne'
        ? values.every((v) => compare(op, v, expected, caseExact))
        : values.some((v) => compare(op, v, expected, caseExact));
    };
  };

  const predicate = parseOr();
  if (at !== tokens.length) throw new FilterSyntaxError('unexpected trailing input');
  return predicate;
}

/** The single `attr eq "value"` lookups autoProvision answers by creating the user asked for. */
function simpleLookup(filter: string): { attribute: 'userName' | 'externalId' | 'email'; value: string } | null {
  const m =
    /^\s*(userName|externalId|emails\.value)\s+eq\s+("(?:[^"\\]|\\.)*")\s*$/i.exec(filter) ??
    /^\s*(emails)\[\s*value\s+eq\s+("(?:[^"\\]|\\.)*")\s*\]\s*$/i.exec(filter);
  if (!m) return null;
  const value = String(JSON.parse(m[2]!));
  const attr = m[1]!.toLowerCase();
  return { attribute: attr === 'username' ? 'userName' : attr === 'externalid' ? 'externalId' : 'email', value };
}

// ---------------------------------------------------------------------------------------

class ScimState {
  readonly users = new Map<string, SandboxUser>();
  /** userName, emails (lower-cased) and externalIds of removed users: autoProvision must not bring them back. */
  private readonly tombstones = new Set<string>();
  readonly issuedTokens = new Set<string>();

  constructor(public behaviour: ScimSandboxBehaviour) {}

  create(input: z.output<typeof scimSeedUserSchema>): SandboxUser {
    const now = iso();
    const user: SandboxUser = {
      id: randomUUID(),
      userName: input.userName,
      externalId: input.externalId ?? null,
      emails: input.emails,
      active: input.active,
      organization: input.organization ?? null,
      created: now,
      lastModified: now,
    };
    this.users.set(user.id, user);
    return user;
  }

  remove(user: SandboxUser): void {
    this.users.delete(user.id);
    this.tombstones.add(`u:${user.userName.toLowerCase()}`);
    for (const email of user.emails) this.tombstones.add(`e:${email.toLowerCase()}`);
    if (user.externalId) this.tombstones.add(`x:${user.externalId}`);
  }

  wasRemoved(lookup: NonNullable<ReturnType<typeof simpleLookup>>): boolean {
    const key =
      lookup.attribute === 'externalId' ? `x:${lookup.value}` : `${lookup.attribute === 'email' ? 'e' : 'u'}:${lookup.value.toLowerCase()}`;
    // A userName that was also someone's email (and the reverse) is the same person here.
    return (
      this.tombstones.has(key) ||
      (lookup.attribute !== 'externalId' && this.tombstones.has(`${key.startsWith('e') ? 'u' : 'e'}:${lookup.value.toLowerCase()}`))
    );
  }

  /** What autoProvision creates for a lookup of an unknown user: an active user matching it. */
  provision(lookup: NonNullable<ReturnType<typeof simpleLookup>>): SandboxUser {
    const { attribute, value } = lookup;
    if (attribute === 'externalId') {
      return this.create(
        scimSeedUserSchema.parse({ userName: `${value}@sandbox.example`, externalId: value, emails: [`${value}@sandbox.example`] }),
      );
    }
    return this.create(scimSeedUserSchema.parse({ userName: value, emails: value.includes('@') ? [value] : [] }));
  }
}

function userJson(user: SandboxUser, base: string, override: Partial<SandboxUser> = {}) {
  const u = { ...user, ...override };
  return {
    schemas: u.organization ? [USER_SCHEMA, ENTERPRISE_SCHEMA] : [USER_SCHEMA],
    id: u.id,
    ...(u.externalId ? { externalId: u.externalId } : {}),
    userName: u.userName,
    active: u.active,
    emails: u.emails.map((value, i) => ({ value, type: 'work', primary: i === 0 })),
    ...(u.organization ? { [ENTERPRISE_SCHEMA]: { organization: u.organization } } : {}),
    meta: {
      resourceType: 'User',
      created: u.created,
      lastModified: u.lastModified,
      location: `${base}${SCIM_SANDBOX_BASE_PATH}/Users/${u.id}`,
    },
  };
}

/** `true`/`false`, or Entra's strings "True"/"False"; anything else is not a boolean. */
function booleanOf(value: unknown): boolean | null {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  return null;
}

function style(state: ScimState): SandboxStyle {
  return {
    rateLimited(res, retryAfterMs) {
      // Whole seconds, rounded up, so a client waiting for it is never early.
      res.set('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
      scimError(res, 429, 'Too many requests');
    },
    serverError(res) {
      scimError(res, 500, 'Internal server error');
    },
    unauthorized(res) {
      res.set('WWW-Authenticate', 'Bearer realm="scim-sandbox"');
      scimError(res, 401, 'Authorization failure');
    },
    authorized(req) {
      // The token endpoint authenticates the client itself, with the client's credentials.
      if (req.path === '/oauth/token') return true;
      const header = req.get('authorization') ?? '';
      const m = /^Bearer (.+)$/i.exec(header);
      if (!m) return false;
      return m[1] === SCIM_SANDBOX_TOKEN || state.issuedTokens.has(m[1]!);
    },
  };
}

function routes(state: ScimState, tokenLifetimeSeconds: number) {
  return (app: express.Express, control: SandboxControl) => {
    app.post('/oauth/token', express.urlencoded({ extended: false }), (req, res) => {
      const body = (req.body ?? {}) as Record<string, string | undefined>;
      let clientId = body.client_id;
      let clientSecret = body.client_secret;
      const basic = /^Basic (.+)$/i.exec(req.get('authorization') ?? '');
      if (basic) {
        const [id = '', secret = ''] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
        clientId = decodeURIComponent(id);
        clientSecret = decodeURIComponent(secret);
      }
      res.set('Cache-Control', 'no-store');
      if (clientId !== SCIM_SANDBOX_CLIENT_ID || clientSecret !== SCIM_SANDBOX_CLIENT_SECRET) {
        return void res.status(401).json({ error: 'invalid_client', error_description: 'Client authentication failed' });
      }
      if (body.grant_type !== 'client_credentials') {
        return void res.status(400).json({ error: 'unsupported_grant_type' });
      }
      const token = `scim-sandbox-at-${randomBytes(16).toString('hex')}`;
      state.issuedTokens.add(token);
      res.json({
        access_token: token,
        token_type: 'Bearer',
        expires_in: tokenLifetimeSeconds,
        ...(body.scope ? { scope: body.scope } : {}),
      });
    });

    const users = express.Router();

    users.get('/Users', (req, res) => {
      const filter = typeof req.query.filter === 'string' ? req.query.filter : undefined;
      let matched = [...state.users.values()];
      if (filter !== undefined && !state.behaviour.ignoreFilters) {
        let predicate: Predicate;
        try {
          predicate = parseScimFilter(filter);
        } catch (error) {
          return scimError(res, 400, `Invalid filter: ${(error as Error).message}`, 'invalidFilter');
        }
        matched = matched.filter((u) => predicate(userJson(u, '') as unknown as Record<string, unknown>));
        const lookup = simpleLookup(filter);
        if (matched.length === 0 && control.autoProvision && lookup && !state.wasRemoved(lookup)) {
          matched = [state.provision(lookup)];
        }
      }
      const startIndex = Math.max(1, Number(req.query.startIndex ?? 1) || 1);
      const count = req.query.count === undefined ? 100 : Math.max(0, Number(req.query.count) || 0);
      const page = matched.slice(startIndex - 1, startIndex - 1 + count);
      scimJson(res, 200, {
        schemas: [LIST_SCHEMA],
        totalResults: matched.length,
        startIndex,
        itemsPerPage: page.length,
        Resources: page.map((u) => userJson(u, requestOrigin(req))),
      });
    });

    users.get('/Users/:id', (req, res) => {
      const user = state.users.get(req.params.id);
      if (!user) return scimError(res, 404, 'Resource not found');
      scimJson(res, 200, userJson(user, requestOrigin(req)));
    });

    users.patch('/Users/:id', (req, res) => {
      const user = state.users.get(req.params.id);
      if (!user) return scimError(res, 404, 'Resource not found');
      const body = (req.body ?? {}) as { schemas?: unknown; Operations?: unknown };
      if (!Array.isArray(body.schemas) || !body.schemas.includes(PATCH_SCHEMA) || !Array.isArray(body.Operations)) {
        return scimError(res, 400, 'Not a PatchOp request', 'invalidSyntax');
      }
      let active: boolean | null = null;
      for (const raw of body.Operations as unknown[]) {
        const op = (raw ?? {}) as { op?: unknown; path?: unknown; value?: unknown };
        const name = typeof op.op === 'string' ? op.op.toLowerCase() : '';
        if (name !== 'replace' && name !== 'add') return scimError(res, 400, `Unsupported op ${String(op.op)}`, 'invalidSyntax');
        if (typeof op.path === 'string') {
          if (op.path.toLowerCase() !== 'active') return scimError(res, 400, `Unsupported path ${op.path}`, 'invalidPath');
          active = booleanOf(op.value);
          if (active === null) return scimError(res, 400, 'active must be a boolean', 'invalidValue');
        } else if (op.value && typeof op.value === 'object' && !Array.isArray(op.value)) {
          for (const [key, value] of Object.entries(op.value as Record<string, unknown>)) {
            if (key.toLowerCase() !== 'active') continue;
            active = booleanOf(value);
            if (active === null) return scimError(res, 400, 'active must be a boolean', 'invalidValue');
          }
        } else {
          return scimError(res, 400, 'Operation without path needs a value object', 'invalidValue');
        }
      }
      // A lying write answers as if applied and changes nothing.
      if (control.lie()) return scimJson(res, 200, userJson(user, requestOrigin(req), active === null ? {} : { active }));
      if (active !== null && active !== user.active) {
        user.active = active;
        user.lastModified = iso();
        control.countWrite(active ? 'activate' : 'deactivate', user.id);
        if (!active && state.behaviour.deprovision === 'gone') {
          state.remove(user);
          control.countWrite('remove', user.id);
        }
      }
      scimJson(res, 200, userJson(user, requestOrigin(req)));
    });

    users.delete('/Users/:id', (req, res) => {
      const user = state.users.get(req.params.id);
      if (!user) return scimError(res, 404, 'Resource not found');
      if (control.lie()) return void res.status(204).end();
      state.remove(user);
      control.countWrite('delete', user.id);
      res.status(204).end();
    });

    app.use(SCIM_SANDBOX_BASE_PATH, users);
  };
}

/** Body of `POST /__sandbox/members`: `count` active people of a client domain, optionally with its organization value. */
const seedMembersSchema = z
  .object({
    domain: z.string().regex(/^[a-z0-9.-]+$/),
    count: z.number().int().min(1).max(10_000),
    prefix: z
      .string()
      .regex(/^[a-z0-9.-]+$/)
      .default('member'),
    organization: z.string().min(1).max(256).optional(),
  })
  .strict();

function controlRoutes(state: ScimState) {
  return (router: Router) => {
    // A client's people in bulk (customer offboarding): <prefix>-<n>@<domain>, active.
    router.post('/members', (req, res) => {
      const parsed = seedMembersSchema.safeParse(req.body ?? {});
      if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
      const { domain, count, prefix, organization } = parsed.data;
      const ids: string[] = [];
      for (let n = 1; n <= count; n += 1) {
        const email = `${prefix}-${n}@${domain}`;
        ids.push(state.create(scimSeedUserSchema.parse({ userName: email, emails: [email], organization })).id);
      }
      res.status(201).json({ ids });
    });
    router.post('/users', (req, res) => {
      const parsed = scimSeedUserSchema.safeParse(req.body ?? {});
      if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
      const user = state.create(parsed.data);
      res.status(201).json(userJson(user, requestOrigin(req)));
    });
    router.get('/users/:id', (req, res) => {
      const user = state.users.get(req.params.id);
      if (!user) return void res.status(404).json({ error: 'no such user' });
      res.json(userJson(user, requestOrigin(req)));
    });
    // Drift (issue 30): the user active again, as an IdP push or an administrator would do after an offboarding.
    router.post('/users/:id/reactivate', (req, res) => {
      const user = state.users.get(req.params.id);
      if (!user) return void res.status(404).json({ error: 'no such user' });
      user.active = true;
      user.lastModified = iso();
      res.json(userJson(user, requestOrigin(req)));
    });
    router.post('/behaviour', (req, res) => {
      const parsed = behaviourSchema.safeParse(req.body ?? {});
      if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
      state.behaviour = { ...state.behaviour, ...parsed.data };
      res.json(state.behaviour);
    });
    // Revokes every issued OAuth token, as a token expiring early would: clients must fetch another.
    router.post('/tokens/revoke', (_req, res) => {
      state.issuedTokens.clear();
      res.status(204).end();
    });
  };
}

/** Starts the SCIM target emulator on 127.0.0.1 (a random port unless given). */
export async function startScimSandbox(options: ScimSandboxOptions = {}): Promise<RunningSandbox> {
  const state = new ScimState({ deprovision: options.deprovision ?? 'inactive', ignoreFilters: options.ignoreFilters ?? false });
  const sandbox = createSandboxApp(style(state), options, routes(state, options.tokenLifetimeSeconds ?? 3600), controlRoutes(state));
  return listenSandbox(sandbox, { port: options.port });
}
