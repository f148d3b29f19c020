/**
 * The Microsoft sandbox's devices: a user's Intune managed devices
 * (`/users/{id}/managedDevices`, `/deviceManagement/managedDevices/{id}/retire|wipe`) and
 * their Entra device objects (`/devices`, `PATCH /devices/{id}`), in Graph's shapes. A
 * retire or wipe is a command the device carries out when it next checks in: the device
 * shows `retirePending` / `wipePending` until the control route makes it check in, and then
 * leaves Intune management (it is no longer listed). As at Graph with application
 * permissions, only a Windows device object's `accountEnabled` may be changed; any other
 * device answers 403 (the app may change only `extensionAttributes` there).
 *
 * Control routes (under `/__sandbox`, registered by sandbox.ts):
 *   POST /users/:id/devices { deviceName?, operatingSystem? }  enrol a device for the user
 *   GET  /users/:id/devices                                    the user's managed devices and their Entra objects
 *   POST /managed-devices/:id/sync                              the device checks in: a pending retire or wipe is carried out
 */
import { randomUUID } from 'node:crypto';
import type express from 'express';
import type { Request, Response } from 'express';
import type { SandboxControl } from '../sandbox/kit.ts';

export interface SeedDevice {
  deviceName?: string;
  /** `iOS`, `Android`, `Windows`, `macOS`. Default `iOS`. */
  operatingSystem?: string;
}

interface ManagedDevice {
  id: string;
  userId: string;
  userPrincipalName: string;
  deviceName: string;
  operatingSystem: string;
  managementState: string;
  azureADDeviceId: string;
  enrolledDateTime: string;
  lastSyncDateTime: string;
}

interface EntraDevice {
  id: string;
  deviceId: string;
  displayName: string;
  operatingSystem: string;
  accountEnabled: boolean;
}

type GraphErrorWriter = (res: Response, status: number, code: string, message: string) => void;
interface Io {
  control: SandboxControl;
  graphError: GraphErrorWriter;
  root: string;
}

const OS_VERSIONS: Record<string, string> = { iOS: '17.5', Android: '14', Windows: '10.0.22631.3880', macOS: '14.5' };

export class DeviceStore {
  readonly managed = new Map<string, ManagedDevice>();
  readonly entra = new Map<string, EntraDevice>();

  /** `input` comes from a control request's JSON: null or odd fields get the defaults. */
  enrol(user: { id: string; userPrincipalName: string }, input: SeedDevice | null = {}): ManagedDevice {
    const os = typeof input?.operatingSystem === 'string' && input.operatingSystem.length <= 40 ? input.operatingSystem : 'iOS';
    const owner = user.userPrincipalName.split('@')[0] ?? 'user';
    const name = typeof input?.deviceName === 'string' ? input.deviceName.slice(0, 100) : `${owner}'s ${os === 'iOS' ? 'iPhone' : os}`;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const entra: EntraDevice = { id: randomUUID(), deviceId: randomUUID(), displayName: name, operatingSystem: os, accountEnabled: true };
    const device: ManagedDevice = {
      id: randomUUID(),
      userId: user.id,
      userPrincipalName: user.userPrincipalName,
      deviceName: name,
      operatingSystem: os,
      managementState: 'managed',
      azureADDeviceId: entra.deviceId,
      enrolledDateTime: now,
      lastSyncDateTime: now,
    };
    this.entra.set(entra.id, entra);
    this.managed.set(device.id, device);
    return device;
  }

  ownedBy(userId: string): ManagedDevice[] {
    return [...this.managed.values()].filter((d) => d.userId === userId);
  }

  /** The device checks in: a pending retire or wipe is carried out and it leaves management. */
  sync(id: string): boolean {
    const device = this.managed.get(id);
    if (!device) return false;
    if (device.managementState === 'retirePending' || device.managementState === 'wipePending') this.managed.delete(id);
    else device.lastSyncDateTime = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    return true;
  }

  /** `GET /users/{id}/managedDevices`. */
  listForUser(userId: string, req: Request, res: Response, io: Io): void {
    res.json({
      '@odata.context': `${io.root}/$metadata#users('${userId}')/managedDevices`,
      value: this.ownedBy(userId).map((d) => selected(managedView(d), req)),
    });
  }

  /** `/deviceManagement/managedDevices/{id}[/retire|/wipe]`: true when handled. */
  routeManaged(id: string | undefined, action: string | undefined, req: Request, res: Response, io: Io): boolean {
    if (id === undefined) return false;
    const device = this.managed.get(id);
    const missing = () => io.graphError(res, 404, 'ResourceNotFound', `Resource not found: managedDevice '${id}'.`);
    if (action === undefined && req.method === 'GET') {
      if (!device) missing();
      else res.json({ '@odata.context': `${io.root}/$metadata#deviceManagement/managedDevices/$entity`, ...managedView(device) });
      return true;
    }
    if ((action !== 'retire' && action !== 'wipe') || req.method !== 'POST') return false;
    if (!device) return (missing(), true);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const flags = ['keepEnrollmentData', 'keepUserData', 'persistEsimDataPlan'];
    if (action === 'wipe' && flags.some((f) => f in body && typeof body[f] !== 'boolean')) {
      io.graphError(res, 400, 'BadRequest', 'Invalid value for a wipe parameter.');
      return true;
    }
    if (io.control.lie()) return (res.status(204).end(), true);
    device.managementState = action === 'retire' ? 'retirePending' : 'wipePending';
    io.control.countWrite(`managed_device_${action}`, device.id);
    res.status(204).end();
    return true;
  }

  /** `GET /devices?$filter=deviceId eq '…'`, `GET|PATCH /devices/{id}`: true when handled. */
  routeEntra(id: string | undefined, req: Request, res: Response, io: Io): boolean {
    if (id === undefined && req.method === 'GET') {
      const filter = typeof req.query.$filter === 'string' ? req.query.$filter.trim() : '';
      const match = /^deviceId eq '([0-9a-fA-F-]{36})'$/.exec(filter);
      if (filter !== '' && !match) {
        io.graphError(res, 400, 'Request_UnsupportedQuery', 'Unsupported or invalid query filter clause specified.');
        return true;
      }
      const devices = [...this.entra.values()].filter((d) => !match || d.deviceId.toLowerCase() === match[1]!.toLowerCase());
      res.json({ '@odata.context': `${io.root}/$metadata#devices`, value: devices.map((d) => selected(entraView(d), req)) });
      return true;
    }
    if (id === undefined) return false;
    const device = this.entra.get(id);
    if (!device) {
      io.graphError(
        res,
        404,
        'Request_ResourceNotFound',
        `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
      );
      return true;
    }
    if (req.method === 'GET') return (res.json(selected(entraView(device), req)), true);
    if (req.method !== 'PATCH') return false;
    const body = (req.body ?? {}) as Record<string, unknown>;
    if ('accountEnabled' in body && typeof body.accountEnabled !== 'boolean') {
      io.graphError(res, 400, 'Request_BadRequest', "Invalid value specified for property 'accountEnabled' of resource 'Device'.");
      return true;
    }
    // Application permissions may change only extensionAttributes of a device that is not Windows.
    if ('accountEnabled' in body && device.operatingSystem.toLowerCase() !== 'windows') {
      io.graphError(res, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
      return true;
    }
    if (io.control.lie()) return (res.status(204).end(), true);
    if (typeof body.accountEnabled === 'boolean') device.accountEnabled = body.accountEnabled;
    io.control.countWrite('update_device', device.id);
    res.status(204).end();
    return true;
  }

  controlRoutes(router: express.Router, userOf: (key: string) => { id: string; userPrincipalName: string } | undefined): void {
    router.post('/users/:id/devices', (req: Request, res: Response) => {
      const user = userOf(idParam(req));
      if (!user) return void res.status(404).json({ error: 'no such user' });
      res.status(201).json(managedView(this.enrol(user, (req.body ?? {}) as SeedDevice)));
    });
    router.get('/users/:id/devices', (req: Request, res: Response) => {
      const user = userOf(idParam(req));
      if (!user) return void res.status(404).json({ error: 'no such user' });
      res.json(
        this.ownedBy(user.id).map((d) => ({
          ...managedView(d),
          entraDevice: [...this.entra.values()].map(entraView).find((e) => e.deviceId === d.azureADDeviceId) ?? null,
        })),
      );
    });
    router.post('/managed-devices/:id/sync', (req: Request, res: Response) => {
      if (!this.sync(idParam(req))) return void res.status(404).json({ error: 'no such managed device' });
      res.status(204).end();
    });
  }
}

function idParam(req: Request): string {
  const id: unknown = req.params.id;
  return typeof id === 'string' ? id : '';
}

function managedView(d: ManagedDevice): Record<string, unknown> {
  return {
    id: d.id,
    userId: d.userId,
    deviceName: d.deviceName,
    managedDeviceOwnerType: 'company',
    enrolledDateTime: d.enrolledDateTime,
    lastSyncDateTime: d.lastSyncDateTime,
    operatingSystem: d.operatingSystem,
    complianceState: 'compliant',
    managementAgent: 'mdm',
    osVersion: OS_VERSIONS[d.operatingSystem] ?? 'unknown',
    azureADRegistered: true,
    deviceEnrollmentType: 'userEnrollment',
    azureADDeviceId: d.azureADDeviceId,
    deviceRegistrationState: 'registered',
    managementState: d.managementState,
    userPrincipalName: d.userPrincipalName,
    model: d.operatingSystem === 'iOS' ? 'iPhone 15' : 'Sandbox device',
    manufacturer: d.operatingSystem === 'iOS' ? 'Apple' : 'Sandbox',
  };
}

function entraView(d: EntraDevice): Record<string, unknown> {
  return {
    id: d.id,
    deviceId: d.deviceId,
    displayName: d.displayName,
    operatingSystem: d.operatingSystem,
    operatingSystemVersion: OS_VERSIONS[d.operatingSystem] ?? 'unknown',
    accountEnabled: d.accountEnabled,
    trustType: d.operatingSystem === 'Windows' ? 'AzureAd' : 'Workplace',
    isManaged: true,
  };
}

/** `$select` as Graph applies it: only the named properties (unknown names are left out). */
function selected(view: Record<string, unknown>, req: Request): Record<string, unknown> {
  const select =
    typeof req.query.$select === 'string' && req.query.$select !== '' ? req.query.$select.split(',').map((s) => s.trim()) : null;
  return select ? Object.fromEntries(select.filter((f) => f in view).map((f) => [f, view[f]])) : view;
}
