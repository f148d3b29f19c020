/**
 * wipe_devices on the Directory API: the leaver's mobile devices get `admin_account_wipe`
 * (the Workspace account and its data leave the device; the default), or `admin_remote_wipe`
 * (a factory reset) when the step's params say `fullWipe: true`. A wipe is a command the
 * device carries out on its next sync, so a read-back right after it shows the device
 * `ACCOUNT_WIPING` (`WIPING`): verify reports that as `requested: …` (proof `requested`,
 * src/audit/proof.ts), and the re-verifications read the device again until it shows
 * `ACCOUNT_WIPED` (`WIPED`). The status values are the ones the API reports (the reference
 * types `status` as a plain string); anything else after the command is a VerificationError.
 */
import {
  PermanentError,
  VerificationError,
  type AccountRef,
  type ActionContext,
  type ActionHandler,
  type Evidence,
  type ExecuteResult,
} from '../contract.ts';
import type { admin_directory_v1 } from '@googleapis/admin';
import type { JsonObject } from '../../src/domain/types.ts';
import type { GoogleActionKit } from './action-kit.ts';

type MobileDevice = admin_directory_v1.Schema$MobileDevice;

interface WipeMode {
  /** The `action` sent. */
  action: 'admin_account_wipe' | 'admin_remote_wipe';
  /** Statuses that show this wipe (or a stronger one) sent and not carried out yet. */
  pending: readonly string[];
  /** Statuses that show it carried out. */
  done: readonly string[];
}

// A full wipe removes the account with everything else, so it satisfies an account wipe too.
const ACCOUNT_WIPE: WipeMode = {
  action: 'admin_account_wipe',
  pending: ['ACCOUNT_WIPING', 'WIPING'],
  done: ['ACCOUNT_WIPED', 'WIPED'],
};
const FULL_WIPE: WipeMode = { action: 'admin_remote_wipe', pending: ['WIPING'], done: ['WIPED'] };
/** mobiledevices.list returns at most 100 per page. */
const PAGE_SIZE = 100;

export function wipeDevicesHandler(kit: GoogleActionKit, customerId: string): ActionHandler {
  return {
    execute: (account, ctx) => wipeDevices(kit, customerId, account, ctx),
    verify: (account, ctx) => verifyWiped(kit, customerId, account, ctx),
  };
}

function modeOf(ctx: ActionContext): WipeMode {
  const full = ctx.params.fullWipe ?? false;
  if (typeof full !== 'boolean')
    throw new PermanentError(`google wipe_devices: fullWipe must be true or false, not ${JSON.stringify(full)}`);
  return full ? FULL_WIPE : ACCOUNT_WIPE;
}

async function wipeDevices(kit: GoogleActionKit, customerId: string, account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> {
  const mode = modeOf(ctx);
  const devices = await devicesOf(kit, customerId, account, ctx.signal);
  const wiped: JsonObject[] = [];
  const alreadyRequested: JsonObject[] = [];
  for (const device of devices) {
    // Read first: a device already wiping or wiped (an earlier attempt, a takeover, an admin)
    // gets no second command; the read is the list just made.
    if (isOneOf(device.status, mode.pending) || isOneOf(device.status, mode.done)) {
      alreadyRequested.push(describe(device));
      continue;
    }
    await kit.call('mobiledevices.action', () =>
      kit.api.directory.mobiledevices.action(
        { customerId, resourceId: device.resourceId, requestBody: { action: mode.action } },
        { signal: ctx.signal },
      ),
    );
    wiped.push({ ...describe(device), statusBefore: device.status });
  }
  return {
    evidence: { action: mode.action, requested: wiped, alreadyRequested, devicesFound: devices.length, alreadyDone: wiped.length === 0 },
  };
}

async function verifyWiped(kit: GoogleActionKit, customerId: string, account: AccountRef, ctx: ActionContext): Promise<Evidence> {
  const mode = modeOf(ctx);
  const devices = await devicesOf(kit, customerId, account, ctx.signal);
  const notRequested = devices.filter((d) => !isOneOf(d.status, mode.pending) && !isOneOf(d.status, mode.done));
  if (notRequested.length > 0) {
    throw new VerificationError(`google: ${notRequested.length} mobile device(s) show no ${mode.action}`, {
      devices: notRequested.map(describe),
    });
  }
  const pending = devices.filter((d) => isOneOf(d.status, mode.pending));
  return {
    action: mode.action,
    devices: devices.map(describe),
    devicesPending: pending.length,
    ...(pending.length > 0
      ? { wipe: `requested: ${pending.length} of ${devices.length} device(s) have not synced since the wipe was sent` }
      : {}),
  };
}

interface OwnedDevice {
  resourceId: string;
  status: string;
  model: string | null;
  type: string | null;
}

/**
 * mobiledevices.list with `query: email:<address>`, every page. The search also matches on
 * words and prefixes, so only devices whose `email` list holds the user's address exactly
 * (case-insensitively) are kept: a colleague's phone is never wiped by a near match.
 */
async function devicesOf(kit: GoogleActionKit, customerId: string, account: AccountRef, signal: AbortSignal): Promise<OwnedDevice[]> {
  const email = await primaryEmail(kit, account, signal);
  const owned: OwnedDevice[] = [];
  let pageToken: string | undefined;
  let pages = 0;
  do {
    const page = await kit.call('mobiledevices.list', () =>
      kit.api.directory.mobiledevices.list(
        { customerId, query: `email:${email}`, projection: 'FULL', maxResults: PAGE_SIZE, ...(pageToken ? { pageToken } : {}) },
        { signal },
      ),
    );
    for (const device of Array.isArray(page.mobiledevices) ? page.mobiledevices : []) {
      const mine = ownedDevice(device, email);
      if (mine) owned.push(mine);
    }
    pageToken = typeof page.nextPageToken === 'string' && page.nextPageToken !== '' ? page.nextPageToken : undefined;
    pages += 1;
    // A runaway cursor must not loop for ever; 100 pages of 100 phones is far past one person.
    if (pages >= 100 && pageToken) throw new PermanentError('google mobiledevices.list: more than 100 pages for one user');
  } while (pageToken);
  return owned;
}

/** The device if it is the user's and names itself; hostile or odd entries are left out. */
function ownedDevice(device: MobileDevice | null, email: string): OwnedDevice | null {
  if (!device || typeof device.resourceId !== 'string' || device.resourceId === '') return null;
  const emails = Array.isArray(device.email) ? device.email : [];
  if (!emails.some((e) => typeof e === 'string' && e.toLowerCase() === email.toLowerCase())) return null;
  return {
    resourceId: device.resourceId,
    status: typeof device.status === 'string' ? device.status : 'unknown',
    model: typeof device.model === 'string' ? device.model : null,
    type: typeof device.type === 'string' ? device.type : null,
  };
}

/** The address devices are listed under: the resolved account's, else read from the user. */
async function primaryEmail(kit: GoogleActionKit, account: AccountRef, signal: AbortSignal): Promise<string> {
  if (typeof account.primaryEmail === 'string' && account.primaryEmail.includes('@')) return account.primaryEmail;
  const user = await kit.requireUser(account, signal);
  if (typeof user.primaryEmail !== 'string' || !user.primaryEmail.includes('@')) {
    throw new PermanentError(`google users.get: user ${account.id} has no primaryEmail to list devices by`);
  }
  return user.primaryEmail;
}

function isOneOf(status: string, statuses: readonly string[]): boolean {
  return statuses.includes(status.toUpperCase());
}

/** What identifies a device for an auditor: no IMEI, serial or MAC address. */
function describe(device: OwnedDevice): JsonObject {
  return { resourceId: device.resourceId, model: device.model, type: device.type, status: device.status };
}
