/**
 * What SCIM writes mean for deprovisiond, one instance per daemon: directory reads and
 * writes, and the state changes that start or cancel a termination.
 *
 * - active true -> false (PATCH in either form, or PUT) and DELETE of an active user start
 *   a termination with the default playbook through TerminationService.submit.
 * - active false -> true cancels the subject's termination while it has not started
 *   (`scheduled` or `held`: a rehire before the last day), with the SCIM channel's
 *   authority: a termination another channel asked for too (an operator, an HRIS webhook)
 *   is refused with 409 unless `intake.scim.mayCancel` lists that channel. A running one
 *   is not undone.
 * - A deactivation of a subject with an open termination follows the one rule of
 *   TerminationService.submit: SCIM names no playbook, so it brings the open termination
 *   forward (an earlier effective time) or joins it, whatever that termination's playbook.
 * - GET answers (one user, a list) wait for the durable point (invariant 7).
 * - Anything else only updates the directory. An absent `active` changes nothing.
 */
import { setImmediate } from 'node:timers/promises';
import { newId } from '../../domain/ids.ts';
import type { Logger } from 'pino';
import { subjectKey } from '../../domain/subject.ts';
import type { Subject } from '../../domain/types.ts';
import {
  DirectoryConflictError,
  foldUserName,
  type DirectoryUser,
  type DirectoryUserInput,
  type SubjectDirectory,
} from '../../store/directory.ts';
import type { GroupSummary } from '../../store/directory-groups.ts';
import { durableRead, type Store } from '../../store/store.ts';
import type { TerminationService } from '../termination-service.ts';
import { filterReads, indexedLookups, matchesFilter, type FilterNode } from './filter.ts';
import { subjectOf, toScimUser, type fromScimUser } from './user-mapping.ts';

/** The resource does not exist (answered 404). */
export class UserNotFoundError extends Error {
  constructor(readonly id: string) {
    super(`Resource ${id} not found`);
    this.name = 'UserNotFoundError';
  }
}

/** A filter that no index narrows, over more users than we evaluate in memory (answered 400 tooMany). */
export class TooManyToFilterError extends Error {
  constructor(readonly limit: number) {
    super(`this filter needs a scan of more than ${limit} users; filter by id, userName or externalId (eq)`);
    this.name = 'TooManyToFilterError';
  }
}

/** Who is asking, and how to tell them about what was deliberately not done. */
export interface ScimCaller {
  /** `scim:token-<index>`: which configured token authenticated the request. */
  actor: string;
  method: string;
  /** Adds a note to the response (a `Warning` header): the body must stay a plain User resource. */
  warn(notice: string): void;
}

export interface ScimUserServiceOptions {
  store: Store;
  terminations: TerminationService;
  logger: Logger;
  /** Users evaluated in memory for a filter no index narrows. Default 10,000. */
  maxScan?: number;
}

type UserUpdate = ReturnType<typeof fromScimUser>;

export class ScimUserService {
  private readonly maxScan: number;
  /** Their failures pass through unchanged: toScimError answers an outage 503 and a bug 500 (src/store/outage.ts decides). */
  private readonly store: Store;
  private readonly directory: SubjectDirectory;
  private readonly terminations: TerminationService;

  constructor(private readonly options: ScimUserServiceOptions) {
    this.maxScan = options.maxScan ?? 10_000;
    this.store = options.store;
    this.directory = options.store.directory;
    this.terminations = options.terminations;
  }

  /** One user as a GET answers it: returned once what was read is on disk. */
  async get(id: string): Promise<DirectoryUser> {
    return durableRead(this.store, () => this.stored(id));
  }

  /** One user and the groups it is a member of, as a GET answers them: returned once what was read is on disk. */
  async view(id: string): Promise<{ user: DirectoryUser; groups: GroupSummary[] }> {
    return durableRead(this.store, async () => {
      const user = await this.stored(id);
      return { user, groups: await this.store.groups.groupsOf(id) };
    });
  }

  /** The groups a user is a member of (RFC 7643 §4.1.2), for the answer to a write. */
  async groupsOf(id: string): Promise<GroupSummary[]> {
    return this.store.groups.groupsOf(id);
  }

  /** One user as stored, for a write that follows (whose own commit makes the answer durable). */
  private async stored(id: string): Promise<DirectoryUser> {
    const user = await this.directory.getUser(id);
    if (!user) throw new UserNotFoundError(id);
    return user;
  }

  /** A new user is only a directory entry, even when created inactive: there is nothing to take away yet. */
  async create(update: UserUpdate): Promise<DirectoryUser> {
    return this.directory.createUser(newId(), { ...update, active: update.active ?? true });
  }

  /** PUT, and PATCH (SCIMMY hands over the whole patched resource): compared with the stored state. */
  async replace(id: string, update: UserUpdate, caller: ScimCaller): Promise<DirectoryUser> {
    const stored = await this.stored(id);
    return this.apply(stored, { ...update, active: update.active ?? stored.active }, caller);
  }

  /**
   * A PATCH whose only operation sets `active` (what Okta and Entra send to deactivate and
   * rehire): the stored entry with that one attribute changed, as SCIMMY's PatchOp would
   * leave it, through the same path as replace().
   */
  async setActive(id: string, active: boolean, caller: ScimCaller): Promise<DirectoryUser> {
    const stored = await this.stored(id);
    const { userName, externalId, managerId, attributes } = stored;
    return this.apply(stored, { userName, externalId, managerId, active, attributes: { ...attributes, active } }, caller);
  }

  private async apply(stored: DirectoryUser, next: DirectoryUserInput, caller: ScimCaller): Promise<DirectoryUser> {
    // A rename onto a taken userName is refused before anything starts (the unique index
    // decides a race). An unchanged userName is this entry's own: nothing to look up.
    if (foldUserName(next.userName) !== foldUserName(stored.userName)) {
      const holder = await this.directory.findByUserName(next.userName);
      if (holder && holder.id !== stored.id) throw new DirectoryConflictError(next.userName);
    }
    if (stored.active && !next.active) {
      // No transaction spans the termination and the directory row, so the termination is
      // written FIRST. If the directory write below fails, the client gets a 5xx and
      // retries; the stored entry is still active, so the retry comes here again with the
      // same source event id (the entry's version did not move) and finds the termination
      // (created: false). Nothing is lost and nothing is doubled. The other order could
      // lose the termination: a retry would see the entry already inactive and do nothing.
      await this.terminate(stored, next, `SCIM ${caller.method} active=false`, `Users/${stored.id}/deactivated@v${stored.version}`, caller);
    } else if (!stored.active && next.active) {
      // Cancelled first for the same reason: a failed directory write leaves the entry
      // inactive, so the client's retry comes back here and finds nothing left to cancel.
      await this.cancelNotStarted(stored, caller);
    }
    const updated = await this.directory.replaceUser(stored.id, next);
    if (!updated) throw new UserNotFoundError(stored.id);
    return updated;
  }

  async delete(id: string, caller: ScimCaller): Promise<void> {
    const stored = await this.stored(id);
    // An inactive entry was terminated when it was deactivated; deleting it starts nothing new.
    if (stored.active) {
      // Termination first, then the directory: see replace().
      await this.terminate(stored, stored, 'SCIM DELETE', `Users/${id}/deleted@v${stored.version}`, caller);
    }
    if (!(await this.directory.deleteUser(id))) throw new UserNotFoundError(id);
  }

  /**
   * One page of the users matching the filter, with their groups (`$ref` under
   * `groupsBasepath`). Unfiltered lists page in the database; `id`/`userName`/`externalId
   * eq` go through an index; other filters are evaluated in memory over at most `maxScan`
   * users. Groups are read for the page only, unless the filter reads `groups`: then for
   * every user it evaluates, a chunk at a time.
   */
  async list(
    filter: FilterNode | null,
    page: { startIndex: number; count: number },
    groupsBasepath: string,
  ): Promise<{ resources: Array<ReturnType<typeof toScimUser>>; total: number }> {
    return durableRead(this.store, () => this.listStored(filter, page, groupsBasepath));
  }

  private async listStored(
    filter: FilterNode | null,
    page: { startIndex: number; count: number },
    groupsBasepath: string,
  ): Promise<{ resources: Array<ReturnType<typeof toScimUser>>; total: number }> {
    const offset = page.startIndex - 1;
    const answer = async (users: DirectoryUser[]) => {
      const groups =
        users.length > 0 ? await this.store.groups.groupsOfUsers(users.map((user) => user.id)) : new Map<string, GroupSummary[]>();
      return users.map((user) => toScimUser(user, undefined, { of: groups.get(user.id) ?? [], basepath: groupsBasepath }));
    };
    if (!filter) {
      const { items, total } = await this.directory.listUsers({ offset, limit: page.count });
      return { resources: await answer(items), total };
    }
    const lookups = indexedLookups(filter);
    if (filterReads(filter, 'groups')) {
      // The filter reads what the answer shows: the resources it matched, groups included.
      const keep = async (users: DirectoryUser[]) => (await answer(users)).filter((resource) => matchesFilter(filter, resource));
      const matching = lookups ? await keep(await this.lookUp(lookups)) : await this.scan(keep);
      return { resources: matching.slice(offset, offset + page.count), total: matching.length };
    }
    const keep = async (users: DirectoryUser[]) => users.filter((user) => matchesFilter(filter, toScimUser(user)));
    const matching = lookups ? await keep(await this.lookUp(lookups)) : await this.scan(keep);
    return { resources: await answer(matching.slice(offset, offset + page.count)), total: matching.length };
  }

  private async lookUp(lookups: NonNullable<ReturnType<typeof indexedLookups>>): Promise<DirectoryUser[]> {
    const found = new Map<string, DirectoryUser>();
    for (const lookup of lookups) {
      const users =
        lookup.by === 'id'
          ? [await this.directory.getUser(lookup.value)]
          : lookup.by === 'userName'
            ? [await this.directory.findByUserName(lookup.value)]
            : await this.directory.findByExternalId(lookup.value);
      for (const user of users) if (user) found.set(user.id, user);
    }
    // Creation order, as unfiltered pages are.
    return [...found.values()].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id));
  }

  /**
   * Every user, a chunk at a time, through `keep`. The event loop gets a turn after each
   * chunk: the store's reads resolve without one (SQLite is synchronous), and a filter
   * over 10,000 users held the whole process for over a second.
   */
  private async scan<T>(keep: (users: DirectoryUser[]) => Promise<T[]>): Promise<T[]> {
    const kept: T[] = [];
    const chunk = 100;
    for (let offset = 0; ; offset += chunk) {
      const { items, total } = await this.directory.listUsers({ offset, limit: chunk });
      if (total > this.maxScan) throw new TooManyToFilterError(this.maxScan);
      kept.push(...(await keep(items)));
      if (items.length < chunk) return kept;
      await setImmediate();
    }
  }

  private async managerOf(managerId: string | null): Promise<DirectoryUser | null> {
    if (!managerId) return null;
    // manager.value is the manager's id here (RFC 7643 §4.3); some clients send the HRIS id instead.
    return (await this.directory.getUser(managerId)) ?? (await this.directory.findByExternalId(managerId))[0] ?? null;
  }

  private async terminate(
    stored: DirectoryUser,
    next: DirectoryUserInput,
    reason: string,
    sourceEventId: string,
    caller: ScimCaller,
  ): Promise<void> {
    // The Subject carries what the client just sent (the latest identifiers) and the manager's own entry.
    const subject = subjectOf({ ...stored, ...next }, await this.managerOf(next.managerId));
    const result = await this.terminations.submit({ source: 'scim', sourceEventId, subject, reason, actor: caller.actor });
    this.options.logger.info(
      {
        userId: stored.id,
        terminationId: result.termination.id,
        outcome: result.outcome,
        duplicate: result.duplicate,
        state: result.termination.state,
        actor: caller.actor,
      },
      result.created
        ? 'SCIM deactivation started a termination'
        : `SCIM deactivation met an open termination (${result.duplicate ? 'repeat' : result.outcome})`,
    );
  }

  private async cancelNotStarted(stored: DirectoryUser, caller: ScimCaller): Promise<void> {
    const subject: Subject = subjectOf(stored, null);
    const open = await this.store.findOpenTermination(subjectKey(subject));
    if (!open) return;
    if (open.state === 'scheduled' || open.state === 'held') {
      // Refused (CancellationRefusedError, audited) when another channel asked for it too: answered 409, directory unchanged.
      await this.terminations.cancelAs('scim', open.id, caller.actor, 'SCIM: user reactivated before the termination started');
      this.options.logger.info(
        { userId: stored.id, terminationId: open.id, previousState: open.state, actor: caller.actor },
        'SCIM reactivation cancelled a termination',
      );
      return;
    }
    // Access is already being cut: re-granting it is a decision for a person, not a sync job.
    await this.store.appendAudit({
      actor: caller.actor,
      action: 'scim.reactivation_not_undone',
      terminationId: open.id,
      data: { userId: stored.id, state: open.state },
    });
    this.options.logger.warn(
      { userId: stored.id, terminationId: open.id, state: open.state, actor: caller.actor },
      'SCIM reactivation did not undo a termination that already started',
    );
    caller.warn(`termination ${open.id} is ${open.state} and was not undone; restore access by hand`);
  }
}
