/**
 * wipe_devices on Microsoft Graph: the leaver's Intune managed devices get `retire` (company
 * data and management removed, the default) or `wipe` (a factory reset) when the step's
 * params say `fullWipe: true`; then the Entra device objects of those devices are disabled,
 * so the device can no longer sign in with the organisation. The command goes first: it
 * must be queued at Intune before anything can stop the device from receiving it.
 *
 * A retire or wipe is carried out when the device next checks in. Until then Intune shows
 * `managementState` `retirePending` / `retireIssued` (`wipePending` / `wipeIssued`); verify
 * reports that as `requested: …` (proof `requested`, src/audit/proof.ts) and the
 * re-verifications read again until the device has left management (no longer listed).
 *
 * With application permissions Graph lets an app change only `extensionAttributes` of a
 * device object whose operatingSystem is not Windows (device-update reference), so only
 * Windows device objects are disabled; the others are named in the evidence, not hidden.
 */
import type { AccountRef, ActionContext, ActionHandler, Evidence, ExecuteResult } from '../contract.ts';
import { PermanentError, VerificationError } from '../contract.ts';
import type { JsonObject } from '../../src/domain/types.ts';
import { odataString, seg, type GraphApi } from './graph-client.ts';

interface ManagedDevice {
  id: string;
  deviceName?: string | null;
  operatingSystem?: string | null;
  managementState?: string | null;
  azureADDeviceId?: string | null;
}

interface EntraDevice {
  id: string;
  deviceId?: string | null;
  displayName?: string | null;
  operatingSystem?: string | null;
  accountEnabled?: boolean | null;
}

type Command = 'retire' | 'wipe';

/** managementState values that show the command sent and not carried out yet; a wipe also retires. */
const PENDING: Record<Command, readonly string[]> = {
  retire: ['retirePending', 'retireIssued', 'wipePending', 'wipeIssued'],
  wipe: ['wipePending', 'wipeIssued'],
};
const NOT_WINDOWS = 'application permissions may change only extensionAttributes of a device that is not Windows';
/** Intune reports an unregistered device with the all-zero GUID. */
const GUID = /^(?!0{8}-0{4}-0{4}-0{4}-0{12}$)[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function commandOf(ctx: ActionContext): Command {
  const full = ctx.params.fullWipe ?? false;
  if (typeof full !== 'boolean')
    throw new PermanentError(`Microsoft wipe_devices: fullWipe must be true or false, not ${JSON.stringify(full)}`);
  return full ? 'wipe' : 'retire';
}

function isPending(device: ManagedDevice, command: Command): boolean {
  return typeof device.managementState === 'string' && PENDING[command].includes(device.managementState);
}

function isWindows(device: EntraDevice): boolean {
  return typeof device.operatingSystem === 'string' && device.operatingSystem.toLowerCase() === 'windows';
}

function managedEvidence(d: ManagedDevice): JsonObject {
  return {
    id: d.id,
    deviceName: d.deviceName ?? null,
    operatingSystem: d.operatingSystem ?? null,
    managementState: d.managementState ?? null,
  };
}

function entraEvidence(d: EntraDevice): JsonObject {
  return {
    id: d.id,
    displayName: d.displayName ?? null,
    operatingSystem: d.operatingSystem ?? null,
    accountEnabled: d.accountEnabled ?? null,
  };
}

/** The user's Intune managed devices; entries without a string id are left out (hostile or odd answers). */
async function managedDevicesOf(graph: GraphApi, userId: string, signal: AbortSignal): Promise<ManagedDevice[]> {
  const items = await graph.collect<ManagedDevice | null>({
    method: 'GET',
    path: `/users/${seg(userId)}/managedDevices`,
    query: { $select: 'id,deviceName,operatingSystem,managementState,azureADDeviceId' },
    signal,
  });
  return items.filter((d): d is ManagedDevice => typeof d?.id === 'string' && d.id !== '');
}

/** The Entra device objects of these managed devices, found by their `deviceId` (Intune's azureADDeviceId). */
async function entraDevicesOf(graph: GraphApi, devices: ManagedDevice[], signal: AbortSignal): Promise<EntraDevice[]> {
  const found: EntraDevice[] = [];
  for (const device of devices) {
    const deviceId = device.azureADDeviceId;
    if (typeof deviceId !== 'string' || !GUID.test(deviceId)) continue;
    const page = await graph.call<{ value?: Array<EntraDevice | null> }>({
      method: 'GET',
      path: '/devices',
      query: { $filter: `deviceId eq ${odataString(deviceId)}`, $select: 'id,deviceId,displayName,operatingSystem,accountEnabled' },
      signal,
    });
    const items = Array.isArray(page?.value) ? page.value : [];
    found.push(...items.filter((d): d is EntraDevice => typeof d?.id === 'string' && d.id !== ''));
  }
  return found;
}

export function wipeDevices(graph: GraphApi): ActionHandler {
  return {
    execute: async (account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> => {
      const command = commandOf(ctx);
      const devices = await managedDevicesOf(graph, account.id, ctx.signal);
      const requested: JsonObject[] = [];
      const alreadyRequested: JsonObject[] = [];
      for (const device of devices) {
        // Read first (the list above): a device already retiring or wiping gets no second command.
        if (isPending(device, command)) {
          alreadyRequested.push(managedEvidence(device));
          continue;
        }
        await graph.call({
          method: 'POST',
          path: `/deviceManagement/managedDevices/${seg(device.id)}/${command}`,
          // retire takes no body; a wipe keeps neither enrollment data nor user data.
          ...(command === 'wipe' ? { body: { keepEnrollmentData: false, keepUserData: false } } : {}),
          signal: ctx.signal,
        });
        requested.push({ ...managedEvidence(device), managementStateBefore: device.managementState ?? null });
      }
      // Only now, with every command queued at Intune, are the device objects disabled.
      const disabled: JsonObject[] = [];
      const alreadyDisabled: JsonObject[] = [];
      const leftEnabled: JsonObject[] = [];
      for (const entra of await entraDevicesOf(graph, devices, ctx.signal)) {
        if (entra.accountEnabled === false) alreadyDisabled.push(entraEvidence(entra));
        else if (!isWindows(entra)) leftEnabled.push({ ...entraEvidence(entra), reason: NOT_WINDOWS });
        else {
          await graph.call({ method: 'PATCH', path: `/devices/${seg(entra.id)}`, body: { accountEnabled: false }, signal: ctx.signal });
          disabled.push({ ...entraEvidence(entra), accountEnabled: false });
        }
      }
      return {
        evidence: {
          command,
          requested,
          alreadyRequested,
          entraDevicesDisabled: disabled,
          entraDevicesAlreadyDisabled: alreadyDisabled,
          entraDevicesLeftEnabled: leftEnabled,
          alreadyDone: requested.length === 0 && disabled.length === 0,
        },
      };
    },
    verify: async (account: AccountRef, ctx: ActionContext): Promise<Evidence> => {
      const command = commandOf(ctx);
      const devices = await managedDevicesOf(graph, account.id, ctx.signal);
      const notRequested = devices.filter((d) => !isPending(d, command));
      if (notRequested.length > 0) {
        throw new VerificationError(`${notRequested.length} managed device(s) show no pending ${command}`, {
          managedDevices: notRequested.map(managedEvidence),
        });
      }
      const entra = await entraDevicesOf(graph, devices, ctx.signal);
      const enabled = entra.filter((d) => d.accountEnabled !== false && isWindows(d));
      if (enabled.length > 0) {
        throw new VerificationError('Entra device objects remain enabled', { entraDevices: enabled.map(entraEvidence) });
      }
      // A device that carried the command out has left management and is no longer listed.
      return {
        command,
        managedDevices: devices.map(managedEvidence),
        entraDevices: entra.map(entraEvidence),
        ...(devices.length > 0
          ? { [command]: `requested: ${devices.length} managed device(s) have not checked in since the ${command} was sent` }
          : {}),
      };
    },
  };
}
