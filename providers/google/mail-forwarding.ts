/**
 * stop_mail_forwarding on Gmail, acting as the leaver (domain-wide delegation with the
 * user as JWT subject): automatic forwarding off, every filter that forwards deleted,
 * every forwarding address deleted (a verified address is a destination ready to be
 * switched back on), IMAP and POP off. Each setting is read first and written only when
 * still open, so a repeat writes nothing; verify reads every one of them back.
 *
 * Gmail refuses mailbox access to a suspended user (GYB's maintainer: "Google doesn't
 * allow backup of suspended user"), so this step belongs beside the suspension, not after
 * it (config/sandbox.yaml, docs/providers/google.md). A refusal on a suspended user is
 * then reported for what it is instead of as an opaque HTTP error.
 */
import type { gmail_v1 } from '@googleapis/gmail';
import {
  PermanentError,
  VerificationError,
  type AccountRef,
  type ActionContext,
  type ActionHandler,
  type DeprovisionError,
  type Evidence,
  type ExecuteResult,
} from '../contract.ts';
import type { JsonObject } from '../../src/domain/types.ts';
import { settleAll } from '../../src/domain/settle-all.ts';
import type { GoogleActionKit } from './action-kit.ts';
import { isNotFound } from './errors.ts';

type Gmail = gmail_v1.Gmail;
type Filter = gmail_v1.Schema$Filter;

export function stopMailForwardingHandler(kit: GoogleActionKit): ActionHandler {
  return {
    execute: (account, ctx) => guardSuspended(kit, account, ctx, () => stopForwarding(kit, account, ctx)),
    verify: (account, ctx) => guardSuspended(kit, account, ctx, () => verifyForwardingStopped(kit, account, ctx)),
  };
}

/** Gmail's userId: the leaver's address (the JWT acts as them; `me` would say the same). */
function mailbox(kit: GoogleActionKit, account: AccountRef): { gmail: Gmail; userId: string } {
  const userId = account.primaryEmail;
  if (typeof userId !== 'string' || !userId.includes('@')) {
    throw new PermanentError(`google stop_mail_forwarding: account ${account.id} has no primary email to act as`);
  }
  return { gmail: kit.api.asUser(userId).gmail, userId };
}

async function stopForwarding(kit: GoogleActionKit, account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> {
  const { gmail, userId } = mailbox(kit, account);
  const { signal } = ctx;
  // Automatic forwarding and the filters go first and side by side: either one sends mail
  // out; a forwarding address is harmless once nothing uses it, and Gmail may refuse to
  // delete one still in use.
  const [forwarding, imap, pop, filters] = await settleAll<[string, string, string, JsonObject[]]>([
    turnOffAutoForwarding(kit, gmail, userId, signal),
    turnOffImap(kit, gmail, userId, signal),
    turnOffPop(kit, gmail, userId, signal),
    deleteForwardingFilters(kit, gmail, userId, signal),
  ]);
  const addresses = await deleteForwardingAddresses(kit, gmail, userId, signal);
  const changed = [forwarding, imap, pop].some((s) => s !== 'already off') || filters.length > 0 || addresses.length > 0;
  return {
    evidence: {
      autoForwarding: forwarding,
      imap,
      pop,
      // Where mail went: what a security review follows up.
      forwardingFiltersRemoved: filters,
      forwardingAddressesRemoved: addresses,
      alreadyDone: !changed,
    },
  };
}

async function turnOffAutoForwarding(kit: GoogleActionKit, gmail: Gmail, userId: string, signal: AbortSignal): Promise<string> {
  const current = await kit.call('settings.getAutoForwarding', () => gmail.users.settings.getAutoForwarding({ userId }, { signal }));
  if (current.enabled === false) return 'already off';
  await kit.call('settings.updateAutoForwarding', () =>
    gmail.users.settings.updateAutoForwarding({ userId, requestBody: { enabled: false } }, { signal }),
  );
  return typeof current.emailAddress === 'string' ? `turned off (was to ${current.emailAddress})` : 'turned off';
}

async function turnOffImap(kit: GoogleActionKit, gmail: Gmail, userId: string, signal: AbortSignal): Promise<string> {
  const current = await kit.call('settings.getImap', () => gmail.users.settings.getImap({ userId }, { signal }));
  if (current.enabled === false) return 'already off';
  await kit.call('settings.updateImap', () => gmail.users.settings.updateImap({ userId, requestBody: { enabled: false } }, { signal }));
  return 'turned off';
}

async function turnOffPop(kit: GoogleActionKit, gmail: Gmail, userId: string, signal: AbortSignal): Promise<string> {
  const current = await kit.call('settings.getPop', () => gmail.users.settings.getPop({ userId }, { signal }));
  if (current.accessWindow === 'disabled') return 'already off';
  await kit.call('settings.updatePop', () =>
    gmail.users.settings.updatePop({ userId, requestBody: { accessWindow: 'disabled' } }, { signal }),
  );
  return 'turned off';
}

/** filters.list (one answer: the method has no paging), then filters.delete for each forwarding one. */
async function deleteForwardingFilters(kit: GoogleActionKit, gmail: Gmail, userId: string, signal: AbortSignal): Promise<JsonObject[]> {
  const forwarding = (await listFilters(kit, gmail, userId, signal)).filter(forwards);
  for (const filter of forwarding) {
    try {
      await gmail.users.settings.filters.delete({ userId, id: filter.id! }, { signal });
    } catch (error) {
      if (!isNotFound(error)) throw kit.toError(error, 'settings.filters.delete');
    }
  }
  return forwarding.map((f) => ({ id: f.id!, forwardTo: f.action!.forward! }));
}

async function deleteForwardingAddresses(kit: GoogleActionKit, gmail: Gmail, userId: string, signal: AbortSignal): Promise<string[]> {
  const addresses = await listForwardingAddresses(kit, gmail, userId, signal);
  for (const forwardingEmail of addresses) {
    try {
      await gmail.users.settings.forwardingAddresses.delete({ userId, forwardingEmail }, { signal });
    } catch (error) {
      if (!isNotFound(error)) throw kit.toError(error, 'settings.forwardingAddresses.delete');
    }
  }
  return addresses;
}

async function verifyForwardingStopped(kit: GoogleActionKit, account: AccountRef, ctx: ActionContext): Promise<Evidence> {
  const { gmail, userId } = mailbox(kit, account);
  const { signal } = ctx;
  const [forwarding, imap, pop, filters, addresses] = await settleAll<
    [gmail_v1.Schema$AutoForwarding, gmail_v1.Schema$ImapSettings, gmail_v1.Schema$PopSettings, Filter[], string[]]
  >([
    kit.call('settings.getAutoForwarding', () => gmail.users.settings.getAutoForwarding({ userId }, { signal })),
    kit.call('settings.getImap', () => gmail.users.settings.getImap({ userId }, { signal })),
    kit.call('settings.getPop', () => gmail.users.settings.getPop({ userId }, { signal })),
    listFilters(kit, gmail, userId, signal),
    listForwardingAddresses(kit, gmail, userId, signal),
  ]);
  const forwardingFilters = filters.filter(forwards);
  // Only explicit values are proof: a missing `enabled` says nothing.
  if (
    forwarding.enabled !== false ||
    imap.enabled !== false ||
    pop.accessWindow !== 'disabled' ||
    forwardingFilters.length > 0 ||
    addresses.length > 0
  ) {
    throw new VerificationError('google: Gmail forwarding, a forwarding filter or address, IMAP or POP remains', {
      autoForwardingEnabled: forwarding.enabled ?? null,
      imapEnabled: imap.enabled ?? null,
      popAccessWindow: pop.accessWindow ?? null,
      forwardingFilters: forwardingFilters.map((f) => f.id ?? null),
      forwardingAddresses: addresses,
    });
  }
  return { autoForwarding: false, imap: false, pop: 'disabled', forwardingFilters: 0, forwardingAddresses: 0 };
}

async function listFilters(kit: GoogleActionKit, gmail: Gmail, userId: string, signal: AbortSignal): Promise<Filter[]> {
  const answer = await kit.call('settings.filters.list', () => gmail.users.settings.filters.list({ userId }, { signal }));
  // Hostile until checked: the list may be missing (no filters) or hold odd entries.
  const list: unknown = answer.filter;
  return Array.isArray(list) ? list.filter((f: unknown): f is Filter => typeof f === 'object' && f !== null) : [];
}

async function listForwardingAddresses(kit: GoogleActionKit, gmail: Gmail, userId: string, signal: AbortSignal): Promise<string[]> {
  const answer = await kit.call('settings.forwardingAddresses.list', () =>
    gmail.users.settings.forwardingAddresses.list({ userId }, { signal }),
  );
  const list: unknown = answer.forwardingAddresses;
  if (!Array.isArray(list)) return [];
  return list
    .map((a: unknown) => (typeof a === 'object' && a !== null ? (a as { forwardingEmail?: unknown }).forwardingEmail : undefined))
    .filter((e): e is string => typeof e === 'string' && e !== '');
}

function forwards(filter: Filter): boolean {
  return typeof filter.id === 'string' && typeof filter.action?.forward === 'string' && filter.action.forward !== '';
}

/**
 * A permanent Gmail refusal may mean the user is already suspended: Gmail serves no
 * suspended mailbox, and what it answers then is not documented. The user is read, and a
 * suspended one gets an error that says so; the adapter never unsuspends to clean up.
 */
async function guardSuspended<T>(kit: GoogleActionKit, account: AccountRef, ctx: ActionContext, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof PermanentError)) throw error;
    const user = await kit.requireUser(account, ctx.signal);
    if (user.suspended !== true) throw error;
    throw suspendedMailbox(account.id, error);
  }
}

function suspendedMailbox(userKey: string, cause: DeprovisionError): PermanentError {
  return new PermanentError(
    `google stop_mail_forwarding: user ${userKey} is already suspended and Gmail serves no suspended mailbox (${cause.message}). ` +
      'Run stop_mail_forwarding beside disable_account, not after it; the adapter never unsuspends to clean up',
  );
}
