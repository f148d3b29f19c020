/**
 * The in-house sandbox: a small stateful customer-tenant API, as a company's own admin API
 * for the `rest` provider (there is no vendor to copy; the shape follows common practice:
 * JSON under `/api/v1`, `Authorization: Bearer`, errors as `{ error: { code, message } }`,
 * 429 with `Retry-After` in seconds, and Stripe-style `Idempotency-Key` on POST: a repeat
 * with the same key answers the first request's result and creates nothing).
 *
 * Tenants have API keys, OAuth apps, an enabled flag, data records and data exports. An
 * export is asynchronous: `pending` until it has been read `exportReadyAfterPolls` times (or
 * `exportReadyAfterMs` passed), then `ready` with a download link holding a secret token.
 * Faults come from the kit (rate limits, 5xx, timeouts, lying writes, lost answers).
 */
import { randomBytes } from 'node:crypto';
import type { Request, Response, Router } from 'express';
import {
  createSandboxApp,
  listenSandbox,
  requestOrigin,
  type RunningSandbox,
  type SandboxControl,
  type SandboxOptions,
  type SandboxStyle,
} from '../sandbox/kit.ts';
import { INHOUSE_SANDBOX_TOKEN } from './sandbox-credentials.ts';

export { INHOUSE_SANDBOX_TOKEN };

export interface InhouseSandboxOptions extends SandboxOptions {
  port?: number;
  /** Reads of a pending export before it is ready. Default 2. */
  exportReadyAfterPolls?: number;
  /** Or the time after which a pending export is ready, whichever comes first. Default never (polls only). */
  exportReadyAfterMs?: number;
}

export interface SandboxExport {
  id: string;
  status: 'pending' | 'ready' | 'failed';
  format: string;
  createdAt: string;
  readyAt: string | null;
  /** A bearer link: anyone holding it downloads the data. */
  downloadUrl: string | null;
  reads: number;
  idempotencyKey: string | null;
}

export interface SandboxTenant {
  id: string;
  externalId: string;
  name: string;
  enabled: boolean;
  apiKeys: Array<{ id: string; prefix: string; createdAt: string }>;
  oauthApps: Array<{ id: string; name: string; clientId: string }>;
  records: number;
  dataDeletedAt: string | null;
  exports: SandboxExport[];
}

const id = (prefix: string) => `${prefix}_${randomBytes(8).toString('hex')}`;
const now = () => new Date().toISOString();

function errorBody(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

const style: SandboxStyle = {
  rateLimited: (res, retryAfterMs) => {
    res.setHeader('Retry-After', String(Math.ceil(retryAfterMs / 1000)));
    errorBody(res, 429, 'rate_limited', 'Too many requests');
  },
  serverError: (res) => errorBody(res, 503, 'unavailable', 'The service is temporarily unavailable'),
  unauthorized: (res) => {
    res.setHeader('WWW-Authenticate', 'Bearer');
    errorBody(res, 401, 'unauthorized', 'Missing or invalid bearer token');
  },
  authorized: (req) => req.get('authorization') === `Bearer ${INHOUSE_SANDBOX_TOKEN}`,
};

export class InhouseState {
  readonly tenants = new Map<string, SandboxTenant>();
  constructor(private readonly options: InhouseSandboxOptions) {}

  seed(externalId: string): SandboxTenant {
    const tenant: SandboxTenant = {
      id: id('ten'),
      externalId,
      name: `Tenant ${externalId}`,
      enabled: true,
      apiKeys: [
        { id: id('key'), prefix: 'sk_live_a1', createdAt: now() },
        { id: id('key'), prefix: 'sk_live_b2', createdAt: now() },
      ],
      oauthApps: [{ id: id('app'), name: 'Reporting integration', clientId: id('cli') }],
      records: 1200,
      dataDeletedAt: null,
      exports: [],
    };
    this.tenants.set(tenant.id, tenant);
    return tenant;
  }

  byExternalId(externalId: string): SandboxTenant | undefined {
    for (const tenant of this.tenants.values()) if (tenant.externalId === externalId) return tenant;
    return undefined;
  }

  /** A read of an export advances it: the job runs while the client polls. */
  advance(exp: SandboxExport, origin: string): void {
    if (exp.status !== 'pending') return;
    exp.reads += 1;
    const byPolls = exp.reads >= (this.options.exportReadyAfterPolls ?? 2);
    const byTime =
      this.options.exportReadyAfterMs !== undefined && Date.now() - Date.parse(exp.createdAt) >= this.options.exportReadyAfterMs;
    if (!byPolls && !byTime) return;
    exp.status = 'ready';
    exp.readyAt = now();
    exp.downloadUrl = `${origin}/downloads/${exp.id}?token=${randomBytes(16).toString('hex')}`;
  }
}

function tenantView(t: SandboxTenant) {
  return { id: t.id, externalId: t.externalId, name: t.name, enabled: t.enabled, records: t.records, dataDeletedAt: t.dataDeletedAt };
}

function exportView(e: SandboxExport) {
  return { id: e.id, status: e.status, format: e.format, createdAt: e.createdAt, readyAt: e.readyAt, downloadUrl: e.downloadUrl };
}

export function createInhouseSandbox(options: InhouseSandboxOptions = {}) {
  const state = new InhouseState(options);
  const routes = (app: import('express').Express, control: SandboxControl) => {
    const api = '/api/v1';
    const tenantOr404 = (req: Request, res: Response): SandboxTenant | null => {
      const tenant = state.tenants.get(String(req.params.tenantId));
      if (!tenant) errorBody(res, 404, 'not_found', 'No such tenant');
      return tenant ?? null;
    };

    app.get(`${api}/me`, (_req, res) => {
      res.json({ id: 'svc_deprovisiond', scopes: ['tenants:read', 'tenants:write', 'credentials:revoke', 'exports:write', 'data:delete'] });
    });

    app.get(`${api}/tenants`, (req, res) => {
      const externalId = req.query.externalId;
      if (typeof externalId !== 'string' || externalId === '') return errorBody(res, 400, 'invalid_request', 'externalId is required');
      let tenant = state.byExternalId(externalId);
      if (!tenant && control.autoProvision) tenant = state.seed(externalId);
      res.json({ data: tenant ? [tenantView(tenant)] : [] });
    });

    app.get(`${api}/tenants/:tenantId`, (req, res) => {
      const tenant = tenantOr404(req, res);
      if (tenant) res.json(tenantView(tenant));
    });

    app.patch(`${api}/tenants/:tenantId`, (req, res) => {
      const tenant = tenantOr404(req, res);
      if (!tenant) return;
      const enabled = (req.body as { enabled?: unknown } | undefined)?.enabled;
      if (typeof enabled !== 'boolean') return errorBody(res, 400, 'invalid_request', 'enabled must be a boolean');
      if (!control.lie()) {
        tenant.enabled = enabled;
        control.countWrite(enabled ? 'enable' : 'disable', tenant.id);
      }
      res.json(tenantView(tenant));
    });

    app.get(`${api}/tenants/:tenantId/credentials`, (req, res) => {
      const tenant = tenantOr404(req, res);
      if (tenant) res.json({ apiKeys: tenant.apiKeys, oauthApps: tenant.oauthApps.map(({ id: appId, name }) => ({ id: appId, name })) });
    });

    app.post(`${api}/tenants/:tenantId/credentials/revoke`, (req, res) => {
      const tenant = tenantOr404(req, res);
      if (!tenant) return;
      const answer = { revokedApiKeys: tenant.apiKeys.length, revokedOAuthApps: tenant.oauthApps.length };
      if (!control.lie()) {
        tenant.apiKeys = [];
        tenant.oauthApps = [];
        control.countWrite('revoke_credentials', tenant.id);
      }
      res.json(answer);
    });

    app.post(`${api}/tenants/:tenantId/exports`, (req, res) => {
      const tenant = tenantOr404(req, res);
      if (!tenant) return;
      const key = req.get('idempotency-key') ?? null;
      const earlier = key === null ? undefined : tenant.exports.find((e) => e.idempotencyKey === key);
      if (earlier) {
        res.setHeader('Idempotent-Replayed', 'true');
        return res.status(202).json(exportView(earlier));
      }
      if (tenant.dataDeletedAt !== null) return errorBody(res, 409, 'data_deleted', "The tenant's data was deleted");
      const format = (req.body as { format?: unknown } | undefined)?.format ?? 'json';
      if (format !== 'json' && format !== 'csv') return errorBody(res, 400, 'invalid_request', 'format must be json or csv');
      const exp: SandboxExport = {
        id: id('exp'),
        status: 'pending',
        format,
        createdAt: now(),
        readyAt: null,
        downloadUrl: null,
        reads: 0,
        idempotencyKey: key,
      };
      // A lie acknowledges an export that was never kept: polling it finds nothing.
      if (!control.lie()) {
        tenant.exports.push(exp);
        control.countWrite('export', tenant.id);
      }
      res.status(202).json(exportView(exp));
    });

    app.get(`${api}/tenants/:tenantId/exports`, (req, res) => {
      const tenant = tenantOr404(req, res);
      if (tenant) res.json({ data: tenant.exports.map(exportView) });
    });

    app.get(`${api}/tenants/:tenantId/exports/:exportId`, (req, res) => {
      const tenant = tenantOr404(req, res);
      if (!tenant) return;
      const exp = tenant.exports.find((e) => e.id === req.params.exportId);
      if (!exp) return errorBody(res, 404, 'not_found', 'No such export');
      state.advance(exp, requestOrigin(req));
      res.json(exportView(exp));
    });

    app.delete(`${api}/tenants/:tenantId/data`, (req, res) => {
      const tenant = tenantOr404(req, res);
      if (!tenant) return;
      if (!control.lie()) {
        tenant.dataDeletedAt ??= now();
        tenant.records = 0;
        for (const exp of tenant.exports) exp.downloadUrl = null;
        control.countWrite('delete_data', tenant.id);
      }
      res.status(204).end();
    });
  };

  const extraControl = (router: Router) => {
    router.get('/tenants/:tenantId', (req, res) => {
      const tenant = state.tenants.get(req.params.tenantId);
      if (!tenant) return errorBody(res, 404, 'not_found', 'No such tenant');
      res.json(tenant);
    });
    // Undoes actions behind the adapter's back (drift): a key issued again, the tenant re-enabled.
    router.post('/tenants/:tenantId/undo', (req, res) => {
      const tenant = state.tenants.get(req.params.tenantId);
      if (!tenant) return errorBody(res, 404, 'not_found', 'No such tenant');
      const what = (req.body as { action?: unknown } | undefined)?.action;
      if (what === 'disable_account') tenant.enabled = true;
      else if (what === 'revoke_credentials') tenant.apiKeys.push({ id: id('key'), prefix: 'sk_live_c3', createdAt: now() });
      else return errorBody(res, 400, 'invalid_request', 'action must be disable_account or revoke_credentials');
      res.json(tenant);
    });
  };
  return { ...createSandboxApp(style, options, routes, extraControl), state };
}

export type RunningInhouseSandbox = RunningSandbox & { state: InhouseState };

export async function startInhouseSandbox(options: InhouseSandboxOptions = {}): Promise<RunningInhouseSandbox> {
  const sandbox = createInhouseSandbox(options);
  const running = await listenSandbox(sandbox, { port: options.port });
  return Object.assign(running, { state: sandbox.state });
}
