/**
 * The Google sandbox's mobile devices (Directory API `mobiledevices`): the customer's list
 * with its `query` search, and `action`, on Google's paths and JSON shapes. A wipe is a
 * command the device carries out on its next sync: the action leaves the device
 * `ACCOUNT_WIPING` (or `WIPING` for a full wipe) until the control route makes it sync, and
 * then `ACCOUNT_WIPED` (or `WIPED`).
 *
 * Control routes (under `/__sandbox`, registered by sandbox.ts):
 *   POST /users/:key/devices { model?, type?, os? }  seed a device owned by the user
 *   POST /devices/:resourceId/sync                   the device syncs: a pending wipe is carried out
 *   GET  /users/:key/devices                         the user's devices as the API shows them
 */
import { randomBytes } from 'node:crypto';
import type express from 'express';
import type { Request, Response } from 'express';
import type { SandboxControl } from '../sandbox/kit.ts';

/** The values of `status` this emulator uses (Google's: the reference types it as a string). */
export type DeviceStatus = 'APPROVED' | 'BLOCKED' | 'PENDING' | 'ACCOUNT_WIPING' | 'ACCOUNT_WIPED' | 'WIPING' | 'WIPED';

export interface SandboxMobileDevice {
  resourceId: string;
  deviceId: string;
  email: string;
  model: string;
  type: 'ANDROID' | 'IOS_SYNC' | 'GOOGLE_SYNC';
  os: string;
  status: DeviceStatus;
  firstSync: string;
  lastSync: string;
}

export interface SeedDevice {
  model?: string;
  type?: SandboxMobileDevice['type'];
  os?: string;
}

/** What the action route needs from the main emulator: its error writers and list shape. */
export interface GoogleWire {
  googleError(res: Response, code: number, message: string, reason: string, status?: string): void;
  list(kind: string, field: string, items: unknown[], extra?: Record<string, unknown>): Record<string, unknown>;
}

/** `action` values the API accepts (mobiledevices.action reference). */
const ACTIONS = new Set([
  'admin_remote_wipe',
  'admin_account_wipe',
  'approve',
  'block',
  'cancel_remote_wipe_then_activate',
  'cancel_remote_wipe_then_block',
]);
const MAX_PAGE = 100;

export class MobileDeviceStore {
  readonly devices = new Map<string, SandboxMobileDevice>();

  seed(email: string, input: SeedDevice = {}): SandboxMobileDevice {
    const now = new Date().toISOString();
    const device: SandboxMobileDevice = {
      // Resource ids are opaque base64-like strings at Google.
      resourceId: `AFiQxQ8${randomBytes(12).toString('base64url')}`,
      deviceId: randomBytes(8).toString('hex'),
      email,
      model: typeof input.model === 'string' ? input.model.slice(0, 100) : 'Pixel 8',
      type: input.type === 'IOS_SYNC' || input.type === 'GOOGLE_SYNC' ? input.type : 'ANDROID',
      os: typeof input.os === 'string' ? input.os.slice(0, 100) : 'Android 14',
      status: 'APPROVED',
      firstSync: now,
      lastSync: now,
    };
    this.devices.set(device.resourceId, device);
    return device;
  }

  ownedBy(email: string): SandboxMobileDevice[] {
    const lower = email.toLowerCase();
    return [...this.devices.values()].filter((d) => d.email.toLowerCase() === lower);
  }

  /** The device syncs: a pending wipe is carried out. Answers false for an unknown device. */
  sync(resourceId: string): SandboxMobileDevice | null {
    const device = this.devices.get(resourceId);
    if (!device) return null;
    if (device.status === 'ACCOUNT_WIPING') device.status = 'ACCOUNT_WIPED';
    if (device.status === 'WIPING') device.status = 'WIPED';
    device.lastSync = new Date().toISOString();
    return device;
  }

  routes(app: express.Express, control: SandboxControl, wire: GoogleWire): void {
    const base = '/admin/directory/v1/customer/:customerId/devices/mobile';
    app.get(base, (req, res) => {
      const query = typeof req.query.query === 'string' ? req.query.query : '';
      const matches = matcher(query);
      if (!matches) return wire.googleError(res, 400, 'Invalid Input: query', 'invalid', 'INVALID_ARGUMENT');
      const all = [...this.devices.values()].filter(matches);
      const size = Math.max(1, Math.min(Number(req.query.maxResults ?? MAX_PAGE) || MAX_PAGE, MAX_PAGE));
      const start = Number(req.query.pageToken ?? 0) || 0;
      const page = all.slice(start, start + size).map(deviceJson);
      const next = start + size < all.length ? { nextPageToken: String(start + size) } : {};
      res.json(wire.list('admin#directory#mobiledevices', 'mobiledevices', page, next));
    });
    app.get(`${base}/:resourceId`, (req, res) => {
      const device = this.devices.get(req.params.resourceId);
      if (!device) return wire.googleError(res, 404, 'Resource Not Found: resourceId', 'notFound');
      res.json(deviceJson(device));
    });
    app.post(`${base}/:resourceId/action`, (req, res) => {
      const device = this.devices.get(req.params.resourceId);
      if (!device) return wire.googleError(res, 404, 'Resource Not Found: resourceId', 'notFound');
      const action = ((req.body ?? {}) as Record<string, unknown>).action;
      if (typeof action !== 'string' || !ACTIONS.has(action)) {
        return wire.googleError(res, 400, 'Invalid Input: action', 'invalid', 'INVALID_ARGUMENT');
      }
      if (control.lie()) return void res.status(204).end();
      if (action === 'admin_account_wipe') device.status = 'ACCOUNT_WIPING';
      if (action === 'admin_remote_wipe') device.status = 'WIPING';
      if (action === 'approve' || action === 'cancel_remote_wipe_then_activate') device.status = 'APPROVED';
      if (action === 'block' || action === 'cancel_remote_wipe_then_block') device.status = 'BLOCKED';
      control.countWrite(`mobiledevices.${action}`, device.resourceId);
      res.status(204).end();
    });
  }

  controlRoutes(router: express.Router, userEmail: (key: string) => string | undefined): void {
    router.post('/users/:key/devices', (req: Request, res: Response) => {
      const email = userEmail(String(req.params.key));
      if (!email) return void res.status(404).json({ error: 'no such user' });
      res.status(201).json(deviceJson(this.seed(email, (req.body ?? {}) as SeedDevice)));
    });
    router.get('/users/:key/devices', (req: Request, res: Response) => {
      const email = userEmail(String(req.params.key));
      if (!email) return void res.status(404).json({ error: 'no such user' });
      res.json(this.ownedBy(email).map(deviceJson));
    });
    router.post('/devices/:resourceId/sync', (req: Request, res: Response) => {
      const device = this.sync(String(req.params.resourceId));
      if (!device) return void res.status(404).json({ error: 'no such device' });
      res.json(deviceJson(device));
    });
  }
}

/**
 * The search clauses this emulator understands: `email:` with an exact address or a prefix
 * ending in `*`, several clauses ANDed (Google's search-devices guide). Anything else is
 * refused (null) rather than matching everything.
 */
function matcher(query: string): ((d: SandboxMobileDevice) => boolean) | null {
  const clauses = query.trim() === '' ? [] : query.trim().split(/\s+/);
  const tests: Array<(d: SandboxMobileDevice) => boolean> = [];
  for (const clause of clauses) {
    const match = /^email:(.+)$/i.exec(clause);
    if (!match) return null;
    const value = match[1]!.replace(/^"(.*)"$/, '$1').toLowerCase();
    tests.push(value.endsWith('*') ? (d) => d.email.toLowerCase().startsWith(value.slice(0, -1)) : (d) => d.email.toLowerCase() === value);
  }
  return (d) => tests.every((test) => test(d));
}

function deviceJson(d: SandboxMobileDevice): Record<string, unknown> {
  return {
    kind: 'admin#directory#mobiledevice',
    etag: `"${d.resourceId}/${d.status}"`,
    resourceId: d.resourceId,
    deviceId: d.deviceId,
    name: [d.email.split('@')[0]],
    email: [d.email],
    model: d.model,
    os: d.os,
    type: d.type,
    status: d.status,
    firstSync: d.firstSync,
    lastSync: d.lastSync,
    deviceCompromisedStatus: 'No compromise detected',
  };
}
