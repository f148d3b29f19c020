/**
 * Google Workspace adapter on the Admin SDK (`@googleapis/admin`): Directory API for
 * users, sessions, groups and deletion; Data Transfer API for Drive and Calendar
 * ownership. Every action reads first, acts, and is proven by its own read-back.
 */
import type { Logger } from 'pino';
import type { admin_datatransfer_v1, admin_directory_v1 } from '@googleapis/admin';
import {
  DeprovisionError,
  PermanentError,
  VerificationError,
  withCheckpoint,
  type AccountRef,
  type ActionContext,
  type ActionHandler,
  type Evidence,
  type ExecuteResult,
  type Provider,
} from '../contract.ts';
import type { ActionName, JsonObject, Subject } from '../../src/domain/types.ts';
import { settleAll } from '../../src/domain/settle-all.ts';
import { alreadyAbsent } from '../absent.ts';
import { createAuthClient, createClients, type GoogleAuthClient, type GoogleClients } from './client.ts';
import type { GoogleConfig } from './config.ts';
import { createActionKit, type GoogleActionKit } from './action-kit.ts';
import { clearRecoveryHandler } from './recovery.ts';
import { removeMfaHandler } from './two-step.ts';
import { removeAdminRolesHandler } from './admin-roles.ts';
import { resetPasswordHandler } from './password.ts';
import { stopMailForwardingHandler } from './mail-forwarding.ts';
import { revokePublicLinksHandler } from './public-links.ts';
import { wipeDevicesHandler } from './devices.ts';
import { isNotFound, toProviderError } from './errors.ts';

type User = admin_directory_v1.Schema$User;
type DataTransfer = admin_datatransfer_v1.Schema$DataTransfer;

/** Application ids of the Data Transfer API (stable; `applications.list` shows them). */
export const DRIVE_APPLICATION_ID = '55656082996';
export const CALENDAR_APPLICATION_ID = '435070579839';

/** What transfer_files moves: every Drive file (private and shared) and future Calendar events. */
export const TRANSFER_APPLICATIONS: admin_datatransfer_v1.Schema$ApplicationDataTransfer[] = [
  {
    applicationId: DRIVE_APPLICATION_ID,
    // Without PRIVATE, Google transfers only shared files (the parameter defaults to SHARED).
    applicationTransferParams: [{ key: 'PRIVACY_LEVEL', value: ['PRIVATE', 'SHARED'] }],
  },
  {
    applicationId: CALENDAR_APPLICATION_ID,
    applicationTransferParams: [{ key: 'RELEASE_RESOURCES', value: ['TRUE'] }],
  },
];

/**
 * `overallTransferStatusCode` values seen from the API: `new`, `inProgress`, `completed`,
 * `failed`. The SDK types it as a plain string, so it is compared case-insensitively.
 */
const TRANSFER_COMPLETED = 'completed';
const TRANSFER_FAILED = 'failed';
const FIRST_POLL_MS = 1000;

export interface GoogleProviderDeps {
  name: string;
  logger: Logger;
  /** Injected auth; default from config (JWT with delegation, or the sandbox's static token). */
  authClient?: GoogleAuthClient;
  /** The provider's request rate limit (see ProviderFactoryContext.throttle). */
  throttle?: (signal?: AbortSignal) => Promise<void>;
}

export function createGoogleProvider(config: GoogleConfig, deps: GoogleProviderDeps): Provider {
  return new GoogleProvider(config, deps);
}

class GoogleProvider implements Provider {
  readonly kind = 'google';
  readonly name: string;
  readonly actions: Partial<Record<ActionName, ActionHandler>>;
  private readonly api: GoogleClients;
  private readonly kit: GoogleActionKit;

  constructor(
    private readonly config: GoogleConfig,
    deps: GoogleProviderDeps,
  ) {
    this.name = deps.name;
    const injected = deps.authClient;
    // An injected auth client (tests) also stands in for the per-user JWTs of Gmail and Drive.
    this.api = createClients(config, injected ?? createAuthClient(config), deps.throttle, injected ? () => injected : undefined);
    this.kit = createActionKit(this.api, config.rateLimitDelayMs);
    this.actions = {
      clear_recovery: clearRecoveryHandler(this.kit),
      remove_mfa: removeMfaHandler(this.kit),
      remove_admin_roles: removeAdminRolesHandler(this.kit, config.customer),
      reset_password: resetPasswordHandler(this.kit),
      stop_mail_forwarding: stopMailForwardingHandler(this.kit),
      revoke_public_links: revokePublicLinksHandler(this.kit),
      wipe_devices: wipeDevicesHandler(this.kit, config.customer),
      revoke_sessions: { execute: (a, c) => this.revokeSessions(a, c), verify: (a, c) => this.verifySessions(a, c) },
      disable_account: { execute: (a, c) => this.suspend(a, c), verify: (a, c) => this.verifySuspended(a, c) },
      remove_groups: { execute: (a, c) => this.removeGroups(a, c), verify: (a, c) => this.verifyNoGroups(a, c) },
      transfer_files: { execute: (a, c) => this.transferFiles(a, c), verify: (a, c) => this.verifyTransfer(a, c) },
      delete_account: { execute: (a, c) => this.deleteUser(a, c), verify: (a, c) => this.verifyDeleted(a, c) },
    };
  }

  /** Runs one SDK call and turns its failure into the engine's typed error. */
  private call<T>(operation: string, run: () => Promise<{ data: T }>): Promise<T> {
    return this.kit.call(operation, run);
  }

  /** users.get; null when Google answers 404 (no such user, or deleted). */
  private async getUser(userKey: string, signal: AbortSignal): Promise<User | null> {
    try {
      return (await this.api.directory.users.get({ userKey }, { signal })).data;
    } catch (error) {
      if (isNotFound(error)) return null;
      throw toProviderError(error, 'users.get', { rateLimitDelayMs: this.config.rateLimitDelayMs });
    }
  }

  async validate(ctx: { signal: AbortSignal; logger: Logger }): Promise<void> {
    // The cheapest call that needs both a valid delegated token and directory read access.
    await this.call('users.list', () =>
      this.api.directory.users.list({ customer: this.config.customer, maxResults: 1 }, { signal: ctx.signal }),
    );
  }

  async resolve(subject: Subject, ctx: ActionContext): Promise<AccountRef | null> {
    for (const key of identityKeys(subject)) {
      const user = await this.getUser(key, ctx.signal);
      if (user) return toAccount(user);
    }
    return null;
  }

  // --- revoke_sessions --------------------------------------------------------------

  private async revokeSessions(account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> {
    const userKey = account.id;
    const { signal } = ctx;
    // Sent on every run (it is idempotent and nothing can be read back to tell whether it
    // is needed), except the retry of an attempt that sent it and failed afterwards.
    const earlier = ctx.checkpoint?.signedOut === true;
    if (!earlier) await this.call('users.signOut', () => this.api.directory.users.signOut({ userKey }, { signal }));
    let grants: string[];
    let asps: number[];
    try {
      // OAuth grants and app passwords are independent: listed and deleted side by side,
      // each listed first so that a retry deletes only what is still there.
      [grants, asps] = await settleAll<[string[], number[]]>([
        this.revokeAll(
          'tokens.delete',
          () => this.oauthClientIds(userKey, signal),
          (clientId) => this.api.directory.tokens.delete({ userKey, clientId }, { signal }),
        ),
        this.revokeAll(
          'asps.delete',
          () => this.appPasswordIds(userKey, signal),
          (codeId) => this.api.directory.asps.delete({ userKey, codeId }, { signal }),
        ),
      ]);
    } catch (error) {
      if (error instanceof DeprovisionError && !earlier) {
        throw withCheckpoint(error, { signedOut: true, signedOutAt: ctx.now().toISOString() });
      }
      throw error;
    }
    const signedOutAt = ctx.checkpoint?.signedOutAt;
    return {
      evidence: {
        signOut: earlier ? `sent by an earlier attempt${typeof signedOutAt === 'string' ? ` at ${signedOutAt}` : ''}` : 'sent',
        oauthClientsRevoked: grants,
        appPasswordsRevoked: asps,
        alreadyDone: grants.length === 0 && asps.length === 0,
      },
    };
  }

  private async verifySessions(account: AccountRef, ctx: ActionContext): Promise<Evidence> {
    const [grants, asps] = await settleAll<[string[], number[]]>([
      this.oauthClientIds(account.id, ctx.signal),
      this.appPasswordIds(account.id, ctx.signal),
    ]);
    if (grants.length > 0 || asps.length > 0) {
      throw new VerificationError('google: OAuth grants or app passwords remain after revocation', {
        oauthClientIds: grants,
        appPasswordIds: asps,
      });
    }
    return {
      oauthGrantsRemaining: 0,
      appPasswordsRemaining: 0,
      signOut: 'not verifiable: the Directory API has no read-back for users.signOut',
    };
  }

  private async oauthClientIds(userKey: string, signal: AbortSignal): Promise<string[]> {
    const list = await this.call('tokens.list', () => this.api.directory.tokens.list({ userKey }, { signal }));
    return (list.items ?? []).map((t) => t.clientId).filter((id): id is string => typeof id === 'string');
  }

  private async appPasswordIds(userKey: string, signal: AbortSignal): Promise<number[]> {
    const list = await this.call('asps.list', () => this.api.directory.asps.list({ userKey }, { signal }));
    return (list.items ?? []).map((a) => a.codeId).filter((id): id is number => typeof id === 'number');
  }

  /** Lists ids, then deletes them all side by side; returns the ids listed. */
  private async revokeAll<Id>(operation: string, list: () => Promise<Id[]>, remove: (id: Id) => Promise<unknown>): Promise<Id[]> {
    const ids = await list();
    await settleAll(ids.map((id) => this.tolerateNotFound(operation, () => remove(id))));
    return ids;
  }

  /** A delete answered 404 found its target already gone: the wanted state. */
  private async tolerateNotFound(operation: string, run: () => Promise<unknown>): Promise<void> {
    try {
      await run();
    } catch (error) {
      if (isNotFound(error)) return;
      throw toProviderError(error, operation, { rateLimitDelayMs: this.config.rateLimitDelayMs });
    }
  }

  // --- disable_account --------------------------------------------------------------

  private async suspend(account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> {
    const current = await this.requireUser(account, ctx.signal);
    if (current.suspended === true) {
      return { evidence: { suspended: true, alreadyDone: true } };
    }
    // users.update (PUT) has patch semantics on the Directory API: only `suspended` changes.
    await this.call('users.update', () =>
      this.api.directory.users.update({ userKey: account.id, requestBody: { suspended: true } }, { signal: ctx.signal }),
    );
    return { evidence: { suspended: true, alreadyDone: false } };
  }

  private async verifySuspended(account: AccountRef, ctx: ActionContext): Promise<Evidence> {
    const user = await this.requireUser(account, ctx.signal);
    if (user.suspended !== true) {
      throw new VerificationError('google: user is not suspended after users.update', {
        suspended: user.suspended ?? null,
      });
    }
    return { suspended: true, suspensionReason: user.suspensionReason ?? null };
  }

  /** users.get for an action on a resolved account: a vanished user is not retryable. */
  private requireUser(account: AccountRef, signal: AbortSignal): Promise<User> {
    return this.kit.requireUser(account, signal);
  }

  // --- remove_groups ----------------------------------------------------------------

  private async removeGroups(account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> {
    const groups = await this.directGroups(account.id, ctx.signal);
    for (const group of groups) {
      await this.tolerateNotFound('members.delete', () =>
        this.api.directory.members.delete({ groupKey: group.id, memberKey: account.id }, { signal: ctx.signal }),
      );
    }
    return { evidence: { groupsRemoved: groups.map((g) => g.email), alreadyDone: groups.length === 0 } };
  }

  private async verifyNoGroups(account: AccountRef, ctx: ActionContext): Promise<Evidence> {
    const groups = await this.directGroups(account.id, ctx.signal);
    if (groups.length > 0) {
      throw new VerificationError('google: user is still a member of groups', { groups: groups.map((g) => g.email) });
    }
    return { groupsRemaining: 0 };
  }

  /** groups.list({userKey}) lists direct memberships; nested ones go with them. */
  private async directGroups(userKey: string, signal: AbortSignal): Promise<Array<{ id: string; email: string }>> {
    const groups: Array<{ id: string; email: string }> = [];
    let pageToken: string | undefined;
    do {
      const page = await this.call('groups.list', () =>
        this.api.directory.groups.list({ userKey, maxResults: 200, ...(pageToken ? { pageToken } : {}) }, { signal }),
      );
      for (const g of page.groups ?? []) {
        if (typeof g.id === 'string') groups.push({ id: g.id, email: g.email ?? g.id });
      }
      pageToken = page.nextPageToken ?? undefined;
    } while (pageToken);
    return groups;
  }

  // --- transfer_files ---------------------------------------------------------------

  private async transferFiles(account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> {
    const checkpoint = ctx.checkpoint;
    if (checkpoint && typeof checkpoint.transferId === 'string') {
      return this.pollTransfer(checkpoint.transferId, numberOr(checkpoint.polls, 0), checkpoint, ctx);
    }
    const owner = await this.newOwner(account, ctx);
    const base: JsonObject = { oldOwnerUserId: account.id, newOwnerUserId: owner.id, newOwner: owner.email, newOwnerSource: owner.source };

    // A transfer may exist already (an earlier attempt died between insert and checkpoint):
    // inserting again would start a second transfer, so pick the existing one up instead.
    const existing = (await this.transfersFrom(account.id, ctx.signal)).find(
      (t) => t.newOwnerUserId === owner.id && coversOurApplications(t) && transferStatus(t) !== TRANSFER_FAILED,
    );
    if (existing?.id) {
      if (transferStatus(existing) === TRANSFER_COMPLETED) {
        return { evidence: { ...base, ...transferEvidence(existing), alreadyDone: true } };
      }
      // The evidence, up to completion, says the transfer was found, not started, by this task's run.
      return this.pending(existing.id, 0, { ...base, alreadyRequested: true }, existing);
    }

    const inserted = await this.call('transfers.insert', () =>
      this.api.transfer.transfers.insert(
        {
          requestBody: {
            oldOwnerUserId: account.id,
            newOwnerUserId: owner.id,
            applicationDataTransfers: TRANSFER_APPLICATIONS,
          },
        },
        { signal: ctx.signal },
      ),
    );
    if (!inserted.id) throw new PermanentError('google transfers.insert: answer carried no transfer id');
    const status = transferStatus(inserted);
    if (status === TRANSFER_FAILED) throw transferFailed(inserted);
    if (status === TRANSFER_COMPLETED) {
      return { evidence: { ...base, ...transferEvidence(inserted), alreadyDone: false } };
    }
    return this.pending(inserted.id, 0, base, inserted);
  }

  private async pollTransfer(transferId: string, polls: number, checkpoint: JsonObject, ctx: ActionContext): Promise<ExecuteResult> {
    let transfer: DataTransfer;
    try {
      transfer = (await this.api.transfer.transfers.get({ dataTransferId: transferId }, { signal: ctx.signal })).data;
    } catch (error) {
      if (!isNotFound(error)) {
        throw toProviderError(error, 'transfers.get', { rateLimitDelayMs: this.config.rateLimitDelayMs });
      }
      // Google accepted the insert but does not know the transfer: nothing is left to
      // wait for. Execution ends here and verify, which reads the transfers back, fails.
      ctx.logger.warn({ transferId }, 'google: transfer accepted by insert is unknown to transfers.get');
      return { evidence: { ...checkpoint, transferId, transferStatus: 'not_found', polls: polls + 1 } };
    }
    const status = transferStatus(transfer);
    if (status === TRANSFER_FAILED) throw transferFailed(transfer);
    if (status === TRANSFER_COMPLETED) {
      return { evidence: { ...checkpoint, ...transferEvidence(transfer), polls: polls + 1, alreadyDone: false } };
    }
    return this.pending(transferId, polls + 1, checkpoint, transfer);
  }

  /** Not finished: ask the engine to come back later, with exponential spacing between polls. */
  private pending(transferId: string, polls: number, base: JsonObject, transfer: DataTransfer): ExecuteResult {
    const checkAfterMs = Math.min(FIRST_POLL_MS * 2 ** polls, this.config.transferPollMaxMs);
    return {
      evidence: { ...base, ...transferEvidence(transfer), transferId, polls },
      inProgress: { checkAfterMs, checkpoint: { ...base, transferId, polls } },
    };
  }

  private async verifyTransfer(account: AccountRef, ctx: ActionContext): Promise<Evidence> {
    const transferId = typeof ctx.checkpoint?.transferId === 'string' ? ctx.checkpoint.transferId : null;
    if (transferId) {
      let transfer: DataTransfer | null = null;
      try {
        transfer = (await this.api.transfer.transfers.get({ dataTransferId: transferId }, { signal: ctx.signal })).data;
      } catch (error) {
        if (!isNotFound(error)) {
          throw toProviderError(error, 'transfers.get', { rateLimitDelayMs: this.config.rateLimitDelayMs });
        }
      }
      if (!transfer || transferStatus(transfer) !== TRANSFER_COMPLETED) {
        throw new VerificationError(`google: transfer ${transferId} is not completed`, {
          transferId,
          overallTransferStatusCode: transfer ? (transfer.overallTransferStatusCode ?? null) : 'not_found',
        });
      }
      return transferEvidence(transfer);
    }
    // No checkpoint (e.g. the transfer was found already done): look it up by old owner.
    const transfers = await this.transfersFrom(account.id, ctx.signal);
    const done = transfers.find((t) => transferStatus(t) === TRANSFER_COMPLETED && coversOurApplications(t));
    if (!done) {
      throw new VerificationError('google: no completed Drive/Calendar transfer from this user', {
        oldOwnerUserId: account.id,
        transfers: transfers.map((t) => ({ id: t.id ?? null, overallTransferStatusCode: t.overallTransferStatusCode ?? null })),
      });
    }
    return transferEvidence(done);
  }

  private async transfersFrom(oldOwnerUserId: string, signal: AbortSignal): Promise<DataTransfer[]> {
    const all: DataTransfer[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.call('transfers.list', () =>
        this.api.transfer.transfers.list({ oldOwnerUserId, ...(pageToken ? { pageToken } : {}) }, { signal }),
      );
      all.push(...(page.dataTransfers ?? []));
      pageToken = page.nextPageToken ?? undefined;
    } while (pageToken);
    return all;
  }

  /**
   * The new owner: the subject's manager (by email, then userName) if Google knows them
   * and they are active, else `fallbackOwner`. The Data Transfer API wants numeric ids.
   */
  private async newOwner(
    account: AccountRef,
    ctx: ActionContext,
  ): Promise<{ id: string; email: string; source: 'manager' | 'fallbackOwner' }> {
    const manager = ctx.subject.manager;
    const candidates: Array<{ key: string; source: 'manager' | 'fallbackOwner' }> = [];
    for (const key of [manager?.email, manager?.userName]) {
      if (key && isEmailLike(key)) candidates.push({ key, source: 'manager' });
    }
    if (this.config.fallbackOwner) candidates.push({ key: this.config.fallbackOwner, source: 'fallbackOwner' });
    for (const candidate of candidates) {
      const user = await this.getUser(candidate.key, ctx.signal);
      if (!user?.id || user.id === account.id || user.suspended === true) continue;
      return { id: user.id, email: user.primaryEmail ?? candidate.key, source: candidate.source };
    }
    throw new PermanentError(
      'google transfer_files: no new owner: the subject has no active manager in Google and no fallbackOwner is configured',
    );
  }

  // --- delete_account ---------------------------------------------------------------

  private async deleteUser(account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> {
    // Read first: after a takeover or a lost answer the user is already gone; a second
    // users.delete would be sent for nothing and answered 404. The evidence then says the
    // user was found absent, never that this attempt deleted it. The 404 below covers a
    // deletion between the read and the write.
    if (!(await this.getUser(account.id, ctx.signal))) return { evidence: alreadyAbsent(account.id, ctx, 'read before delete') };
    try {
      await this.api.directory.users.delete({ userKey: account.id }, { signal: ctx.signal });
    } catch (error) {
      if (isNotFound(error)) return { evidence: alreadyAbsent(account.id, ctx, 'delete answered 404') };
      throw toProviderError(error, 'users.delete', { rateLimitDelayMs: this.config.rateLimitDelayMs });
    }
    return { evidence: { userId: account.id, deleted: true, deletedByAttempt: ctx.attempt, alreadyDone: false } };
  }

  private async verifyDeleted(account: AccountRef, ctx: ActionContext): Promise<Evidence> {
    const user = await this.getUser(account.id, ctx.signal);
    if (user) {
      throw new VerificationError('google: user still exists after users.delete', {
        id: user.id ?? account.id,
        primaryEmail: user.primaryEmail ?? null,
      });
    }
    return { userGet: 404, deleted: true };
  }
}

function isEmailLike(value: string): boolean {
  return /^[^@\s]+@[^@\s]+$/.test(value);
}

/** userName then emails, deduplicated case-insensitively; only keys Google can look up. */
function identityKeys(subject: Subject): string[] {
  const seen = new Set<string>();
  const keys: string[] = [];
  for (const key of [subject.userName, ...subject.emails]) {
    if (!key || !isEmailLike(key) || seen.has(key.toLowerCase())) continue;
    seen.add(key.toLowerCase());
    keys.push(key);
  }
  return keys;
}

function toAccount(user: User): AccountRef {
  if (!user.id) throw new PermanentError('google users.get: answer carried no user id');
  return { id: user.id, primaryEmail: user.primaryEmail ?? '', suspended: user.suspended === true };
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function transferStatus(transfer: DataTransfer): string {
  return (transfer.overallTransferStatusCode ?? '').toLowerCase();
}

function coversOurApplications(transfer: DataTransfer): boolean {
  const ids = new Set((transfer.applicationDataTransfers ?? []).map((a) => a.applicationId));
  return TRANSFER_APPLICATIONS.every((a) => ids.has(a.applicationId));
}

function transferEvidence(transfer: DataTransfer): JsonObject {
  return {
    transferId: transfer.id ?? null,
    overallTransferStatusCode: transfer.overallTransferStatusCode ?? null,
    oldOwnerUserId: transfer.oldOwnerUserId ?? null,
    newOwnerUserId: transfer.newOwnerUserId ?? null,
    requestTime: transfer.requestTime ?? null,
    applications: (transfer.applicationDataTransfers ?? []).map((a) => ({
      applicationId: a.applicationId ?? null,
      applicationTransferStatus: a.applicationTransferStatus ?? null,
    })),
  };
}

function transferFailed(transfer: DataTransfer): PermanentError {
  const apps = (transfer.applicationDataTransfers ?? [])
    .map((a) => `${a.applicationId ?? '?'}=${a.applicationTransferStatus ?? '?'}`)
    .join(', ');
  return new PermanentError(
    `google data transfer ${transfer.id ?? '?'} ended with status ${transfer.overallTransferStatusCode ?? '?'}` +
      (apps ? ` (${apps})` : ''),
  );
}
