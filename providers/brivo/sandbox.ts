/**
 * Brivo Access emulator: the user, suspension and credential endpoints the adapter uses
 * under `/v1/api`, and the password-grant token endpoint at `/oauth/token` (auth and API
 * share one origin here; in production they are auth.brivo.com and api.brivo.com). As in
 * front of the real API, a Mashery-style gateway checks the `api-key` header first
 * (403 `<h1>Developer Inactive</h1>` + `X-Mashery-Error-Code`), then the bearer token
 * (401), and refuses over-limit calls with 403 `ERR_403_DEVELOPER_OVER_QPS` + Retry-After.
 * Bodies follow Brivo's shapes: `{ data, offset, pageSize, count }` lists and
 * `{ code, message }` errors.
 */
import { randomBytes } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import {
  createSandboxApp,
  listenSandbox,
  type RunningSandbox,
  type SandboxControl,
  type SandboxOptions,
  type SandboxStyle,
} from '../sandbox/kit.ts';
import {
  BRIVO_SANDBOX_API_KEY,
  BRIVO_SANDBOX_CLIENT_ID,
  BRIVO_SANDBOX_CLIENT_SECRET,
  BRIVO_SANDBOX_USERNAME,
  BRIVO_SANDBOX_PASSWORD,
} from './sandbox-credentials.ts';

export { BRIVO_SANDBOX_API_KEY, BRIVO_SANDBOX_CLIENT_ID, BRIVO_SANDBOX_CLIENT_SECRET, BRIVO_SANDBOX_USERNAME, BRIVO_SANDBOX_PASSWORD };

/** The account's TEXT custom field holding the work email. */
export const BRIVO_SANDBOX_EMAIL_FIELD_ID = 1001;

export interface BrivoSandboxOptions extends SandboxOptions {
  port?: number;
  /** Lifetime of issued tokens. Default 3600 s. */
  tokenLifetimeSeconds?: number;
}

interface SandboxCredential {
  id: number;
  format: { id: number; name: string };
  referenceId: string;
  encodedCredential: string;
}

interface SandboxUser {
  id: number;
  externalId: string | null;
  firstName: string;
  lastName: string;
  email: string | null;
  suspended: boolean;
  credentials: SandboxCredential[];
  created: string;
  updated: string;
}

/** Body of `POST /__sandbox/users`. */
export const brivoSeedUserSchema = z.object({
  externalId: z.string().min(1).optional(),
  email: z.string().min(1).optional(),
  suspended: z.boolean().default(false),
  /** Credential format names, e.g. "HID 26 bit Card", "PIN Code". */
  credentials: z.array(z.string().min(1)).default([]),
});
export type BrivoSeedUser = z.input<typeof brivoSeedUserSchema>;

/** Body of `POST /__sandbox/users/{id}/credentials`: a badge handed back (drift). */
const assignCredentialSchema = z.object({ format: z.string().min(1).max(100).default('HID 26 bit Card') }).strict();

const iso = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

function brivoError(res: Response, status: number, message: string): void {
  res.status(status).json({ code: status, message });
}

class BrivoState {
  readonly users = new Map<number, SandboxUser>();
  readonly tokens = new Set<string>();
  private nextUserId = 442_000;
  private nextCredentialId = 38_000;

  create(input: z.output<typeof brivoSeedUserSchema>): SandboxUser {
    const now = iso();
    const user: SandboxUser = {
      id: this.nextUserId++,
      externalId: input.externalId ?? null,
      firstName: (input.email ?? input.externalId ?? 'sandbox').split('@')[0] ?? 'sandbox',
      lastName: 'Sandbox',
      email: input.email ?? null,
      suspended: input.suspended,
      credentials: input.credentials.map((name) => this.credential(name)),
      created: now,
      updated: now,
    };
    this.users.set(user.id, user);
    return user;
  }

  private credential(name: string): SandboxCredential {
    const id = this.nextCredentialId++;
    const pin = /pin/i.test(name);
    return {
      id,
      format: { id: pin ? 2 : 100, name },
      referenceId: String(id % 1000),
      encodedCredential: id.toString(16),
    };
  }

  /** What autoProvision creates: an active user holding a card and a PIN. */
  provision(input: { externalId?: string; email?: string }): SandboxUser {
    return this.create(brivoSeedUserSchema.parse({ ...input, credentials: ['HID 26 bit Card', 'PIN Code'] }));
  }

  /** Drift (issue 30): a credential of this format assigned to the user again. */
  assign(user: SandboxUser, format: string): SandboxCredential {
    const credential = this.credential(format);
    user.credentials.push(credential);
    return credential;
  }

  byExternalId(externalId: string): SandboxUser | undefined {
    return [...this.users.values()].find((u) => u.externalId === externalId);
  }
}

function userJson(user: SandboxUser) {
  return {
    id: user.id,
    ...(user.externalId ? { externalId: user.externalId } : {}),
    firstName: user.firstName,
    lastName: user.lastName,
    suspended: user.suspended,
    created: user.created,
    updated: user.updated,
    bleTwoFactorExempt: false,
    customFields: user.email ? [{ id: BRIVO_SANDBOX_EMAIL_FIELD_ID, fieldType: 'TEXT', fieldName: 'Work Email', value: user.email }] : [],
    emails: user.email ? [{ address: user.email, type: 'Work' }] : [],
    phoneNumbers: [],
  };
}

/** List entries are a slice of the user, as at Brivo: no custom fields. */
function userListJson(user: SandboxUser) {
  const { customFields: _customFields, ...rest } = userJson(user);
  return { ...rest, customFields: [] };
}

function credentialJson(c: SandboxCredential) {
  const { format, ...rest } = c;
  return { ...rest, credentialFormat: format, fieldValues: [], size: format.id === 2 ? 0 : 26, accountId: 5022 };
}

function mashery(res: Response, status: number, code: string, html: string): void {
  res.status(status).set('X-Mashery-Error-Code', code).type('text/html').send(`<h1>${html}</h1>`);
}

function style(state: BrivoState): SandboxStyle {
  return {
    rateLimited(res, retryAfterMs) {
      res.set('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
      mashery(res, 403, 'ERR_403_DEVELOPER_OVER_QPS', 'Developer Over Qps');
    },
    serverError(res) {
      brivoError(res, 503, 'A dependent service is unavailable');
    },
    unauthorized(res) {
      // The gateway checks the api-key before the API sees the token.
      if (res.req.get('api-key') !== BRIVO_SANDBOX_API_KEY) {
        return mashery(res, 403, 'ERR_403_DEVELOPER_INACTIVE', 'Developer Inactive');
      }
      res.status(401).json({ error: 'invalid_token', error_description: 'Invalid access token' });
    },
    authorized(req) {
      if (req.get('api-key') !== BRIVO_SANDBOX_API_KEY) return false;
      // The token endpoint authenticates the client (Basic) and the administrator itself.
      if (req.path === '/oauth/token') return true;
      const m = /^bearer (.+)$/i.exec(req.get('authorization') ?? '');
      return m !== null && state.tokens.has(m[1]!);
    },
  };
}

function routes(state: BrivoState, tokenLifetimeSeconds: number) {
  return (app: express.Express, control: SandboxControl) => {
    app.post('/oauth/token', express.urlencoded({ extended: false }), (req, res) => {
      const body = (req.body ?? {}) as Record<string, string | undefined>;
      const basic = /^Basic (.+)$/i.exec(req.get('authorization') ?? '');
      const [clientId, clientSecret] = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8').split(':') : [];
      if (clientId !== BRIVO_SANDBOX_CLIENT_ID || clientSecret !== BRIVO_SANDBOX_CLIENT_SECRET) {
        return void res.status(401).json({ status: 401, error: 'Unauthorized', message: 'Bad credentials', path: '/oauth/token' });
      }
      if (body.grant_type !== 'password') return void res.status(400).json({ error: 'unsupported_grant_type' });
      if (body.username !== BRIVO_SANDBOX_USERNAME || body.password !== BRIVO_SANDBOX_PASSWORD) {
        return void res.status(400).json({ error: 'invalid_grant', error_description: 'Bad credentials' });
      }
      const token = `brivo-sandbox-at-${randomBytes(16).toString('hex')}`;
      state.tokens.add(token);
      res.json({
        access_token: token,
        token_type: 'bearer',
        refresh_token: `rt-${randomBytes(8).toString('hex')}`,
        expires_in: tokenLifetimeSeconds,
      });
    });

    const api = express.Router();
    const userOr404 = (req: Request, res: Response): SandboxUser | undefined => {
      const user = state.users.get(Number(req.params.userId));
      if (!user) brivoError(res, 404, 'User not found');
      return user;
    };

    api.get('/users', (req, res) => {
      const filter = typeof req.query.filter === 'string' ? req.query.filter : '';
      let users = [...state.users.values()];
      for (const clause of filter.split(';').filter(Boolean)) {
        const m = /^([a-z_0-9]+)__(eq|exact|ne):(.*)$/.exec(clause);
        if (!m) return brivoError(res, 400, 'Invalid criteria provided');
        const [, field, op, raw = ''] = m;
        const values = raw.split(',');
        if (field === `cf_${BRIVO_SANDBOX_EMAIL_FIELD_ID}`) {
          // TEXT fields: `eq` is "contains", `exact` is equality (case-insensitive here, as an email is).
          users = users.filter((u) => {
            const v = u.email?.toLowerCase() ?? '';
            return values.some((want) => (op === 'exact' ? v === want.toLowerCase() : v.includes(want.toLowerCase())));
          });
          if (users.length === 0 && control.autoProvision && op === 'exact' && values.length === 1) {
            users = [state.provision({ email: raw })];
          }
        } else if (field === 'user_status') {
          users = users.filter((u) => values.includes(u.suspended ? 'suspended' : 'active'));
        } else if (field === 'id') {
          users = users.filter((u) => (op === 'ne') !== values.includes(String(u.id)));
        } else {
          return brivoError(res, 400, 'Invalid criteria provided');
        }
      }
      const offset = Math.max(0, Number(req.query.offset ?? 0) || 0);
      const pageSize = Math.min(100, Math.max(1, Number(req.query.pageSize ?? 20) || 20));
      res.json({ data: users.slice(offset, offset + pageSize).map(userListJson), offset, pageSize, count: users.length });
    });

    api.get('/users/:externalId/external', (req, res) => {
      const externalId = req.params.externalId;
      let user = state.byExternalId(externalId);
      if (!user && control.autoProvision) user = state.provision({ externalId, email: `${externalId.toLowerCase()}@sandbox.example` });
      if (!user) return brivoError(res, 404, 'User not found');
      res.json(userJson(user));
    });

    api.get('/users/:userId', (req, res) => {
      const user = userOr404(req, res);
      if (user) res.json(userJson(user));
    });

    api.get('/users/:userId/custom-fields', (req, res) => {
      const user = userOr404(req, res);
      if (!user) return;
      const data = userJson(user).customFields;
      res.json({ data, count: data.length });
    });

    api.get('/users/:userId/suspended', (req, res) => {
      const user = userOr404(req, res);
      if (user) res.json({ id: user.id, suspended: user.suspended });
    });

    api.put('/users/:userId/suspended', (req, res) => {
      const user = userOr404(req, res);
      if (!user) return;
      const suspended = (req.body as { suspended?: unknown } | undefined)?.suspended;
      if (typeof suspended !== 'boolean') return brivoError(res, 400, 'Invalid criteria provided');
      if (control.lie()) return void res.json({ id: user.id, suspended });
      if (user.suspended !== suspended) {
        user.suspended = suspended;
        user.updated = iso();
        control.countWrite(suspended ? 'suspend' : 'unsuspend', String(user.id));
      }
      res.json({ id: user.id, suspended: user.suspended });
    });

    api.get('/users/:userId/credentials', (req, res) => {
      const user = userOr404(req, res);
      if (!user) return;
      const offset = Math.max(0, Number(req.query.offset ?? 0) || 0);
      const pageSize = Math.min(100, Math.max(1, Number(req.query.pageSize ?? 20) || 20));
      const page = user.credentials.slice(offset, offset + pageSize).map(credentialJson);
      res.json({ data: page, offset, pageSize, count: user.credentials.length });
    });

    api.delete('/users/:userId/credentials/:credentialId', (req, res) => {
      const user = userOr404(req, res);
      if (!user) return;
      const index = user.credentials.findIndex((c) => c.id === Number(req.params.credentialId));
      if (index < 0) return brivoError(res, 404, 'Credential not found');
      if (control.lie()) return void res.status(204).end();
      user.credentials.splice(index, 1);
      control.countWrite('remove_credential', String(user.id));
      res.status(204).end();
    });

    app.use('/v1/api', api);
  };
}

function controlRoutes(state: BrivoState) {
  return (router: Router) => {
    router.post('/users', (req, res) => {
      const parsed = brivoSeedUserSchema.safeParse(req.body ?? {});
      if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
      if (parsed.data.externalId && state.byExternalId(parsed.data.externalId)) {
        return void res.status(409).json({ error: 'externalId exists' });
      }
      const user = state.create(parsed.data);
      res.status(201).json({ ...userJson(user), credentials: user.credentials.map(credentialJson) });
    });
    router.get('/users/:userId', (req, res) => {
      const user = state.users.get(Number(req.params.userId));
      if (!user) return void res.status(404).json({ error: 'no such user' });
      res.json({ ...userJson(user), credentials: user.credentials.map(credentialJson) });
    });
    // Drift (issue 30): what a site administrator does in the Brivo console after an offboarding.
    router.post('/users/:userId/unsuspend', (req, res) => {
      const user = state.users.get(Number(req.params.userId));
      if (!user) return void res.status(404).json({ error: 'no such user' });
      user.suspended = false;
      user.updated = iso();
      res.json({ id: user.id, suspended: user.suspended });
    });
    router.post('/users/:userId/credentials', (req, res) => {
      const user = state.users.get(Number(req.params.userId));
      const parsed = assignCredentialSchema.safeParse(req.body ?? {});
      if (!user) return void res.status(404).json({ error: 'no such user' });
      if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
      res.status(201).json(credentialJson(state.assign(user, parsed.data.format)));
    });
    router.post('/tokens/revoke', (_req, res) => {
      state.tokens.clear();
      res.status(204).end();
    });
  };
}

/** Starts the Brivo emulator on 127.0.0.1 (a random port unless given). */
export async function startBrivoSandbox(options: BrivoSandboxOptions = {}): Promise<RunningSandbox> {
  const state = new BrivoState();
  const sandbox = createSandboxApp(style(state), options, routes(state, options.tokenLifetimeSeconds ?? 3600), controlRoutes(state));
  return listenSandbox(sandbox, { port: options.port });
}
