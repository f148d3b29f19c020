/**
 * What SCIM Group requests mean for deprovisiond, one instance per daemon: the groups Entra
 * and Okta push, kept in the directory so that playbook rules can read a leaver's groups.
 * A group write starts or cancels nothing: only a user's deactivation or deletion does.
 *
 * - Reads (one group, a list) answer once what they read is on disk (invariant 7).
 * - PATCH is read, applied (group-patch.ts) and written back only if the group is still at
 *   the version read, else read and applied again: two IdP requests adding different
 *   members at once both land, neither overwrites the other.
 * - If-Match (etag.ts) makes a PUT, PATCH or DELETE apply only to the version it names.
 * - Membership changes are audited by the store, in the write's transaction, by member id.
 */
import { setImmediate } from 'node:timers/promises';
import type { Logger } from 'pino';
import SCIMMY from 'scimmy';
import { newId } from '../../domain/ids.ts';
import {
  GroupVersionConflictError,
  type DirectoryGroup,
  type DirectoryGroupInput,
  type GroupDirectory,
} from '../../store/directory-groups.ts';
import { durableRead, type Store } from '../../store/store.ts';
import { filterReads, indexedLookups, matchesFilter, schemaResolver, type FilterNode } from './filter.ts';
import { checkIfMatch, PreconditionFailedError } from './etag.ts';
import { GroupRequestError, toScimGroup } from './group-mapping.ts';
import { applyGroupPatch } from './group-patch.ts';
import type { ScimCaller } from './user-service.ts';

/** The group does not exist (answered 404). */
export class GroupNotFoundError extends Error {
  constructor(readonly id: string) {
    super(`Resource ${id} not found`);
    this.name = 'GroupNotFoundError';
  }
}

type GroupLookup = 'id' | 'displayName' | 'externalId' | 'member';

/** The Group attributes (lower-cased paths) the store has an index for. */
const GROUP_INDEXED = new Map<string, GroupLookup>([
  ['id', 'id'],
  ['displayname', 'displayName'],
  ['externalid', 'externalId'],
  ['members.value', 'member'],
]);

/** How often a PATCH is applied again after losing a race to another write of the same group. */
const PATCH_ATTEMPTS = 5;

export interface ScimGroupServiceOptions {
  store: Store;
  logger: Logger;
  /** Groups evaluated in memory for a filter no index narrows. Default 10,000. */
  maxScan?: number;
}

/** Which versions the request's If-Match accepts (null: any). */
export type IfMatch = Set<number> | null;

export class ScimGroupService {
  private readonly maxScan: number;
  private readonly resolve = schemaResolver(SCIMMY.Schemas.Group.definition);

  constructor(private readonly options: ScimGroupServiceOptions) {
    this.maxScan = options.maxScan ?? 10_000;
  }

  /**
   * A store call. Its failures pass through as they are: toScimError answers an outage (by
   * the driver's code, src/store/outage.ts) 503 so the IdP retries, and anything else 500.
   */
  private async groups<T>(call: (groups: GroupDirectory) => Promise<T>): Promise<T> {
    return call(this.options.store.groups);
  }

  /** One group as a GET answers it. */
  async get(id: string, members: boolean): Promise<DirectoryGroup> {
    return durableRead(this.options.store, () => this.stored(id, members));
  }

  private async stored(id: string, members = true): Promise<DirectoryGroup> {
    const group = await this.groups((groups) => groups.getGroup(id, { members }));
    if (!group) throw new GroupNotFoundError(id);
    return group;
  }

  async create(input: DirectoryGroupInput, caller: ScimCaller): Promise<DirectoryGroup> {
    const group = await this.groups((groups) => groups.createGroup(newId(), input, { actor: caller.actor }));
    this.options.logger.info({ groupId: group.id, members: group.members.length, actor: caller.actor }, 'SCIM group created');
    return group;
  }

  /** PUT: the whole group as sent (members not listed leave it). */
  async replace(id: string, input: DirectoryGroupInput, caller: ScimCaller, ifMatch: IfMatch): Promise<DirectoryGroup> {
    const expectedVersion = await this.matchedVersion(id, ifMatch);
    const group = await this.conflictAsPrecondition(() => this.write(id, input, caller, expectedVersion));
    if (!group) throw new GroupNotFoundError(id);
    return group;
  }

  async patch(id: string, body: unknown, caller: ScimCaller, ifMatch: IfMatch): Promise<DirectoryGroup> {
    for (let attempt = 1; ; attempt += 1) {
      const stored = await this.stored(id);
      checkIfMatch(ifMatch, stored.version);
      const next = applyGroupPatch(
        { displayName: stored.displayName, externalId: stored.externalId, members: stored.members },
        body,
        this.resolve,
      );
      try {
        const group = await this.write(id, next, caller, stored.version);
        if (!group) throw new GroupNotFoundError(id);
        return group;
      } catch (error) {
        if (!(error instanceof GroupVersionConflictError)) throw error;
        if (attempt >= PATCH_ATTEMPTS)
          throw new GroupRequestError(409, null, `group ${id} kept changing while this PATCH was applied; retry it`);
      }
    }
  }

  async delete(id: string, caller: ScimCaller, ifMatch: IfMatch): Promise<void> {
    const expectedVersion = await this.matchedVersion(id, ifMatch);
    const deleted = await this.conflictAsPrecondition(() =>
      this.groups((groups) => groups.deleteGroup(id, { actor: caller.actor, expectedVersion })),
    );
    if (!deleted) throw new GroupNotFoundError(id);
    this.options.logger.info({ groupId: id, actor: caller.actor }, 'SCIM group deleted');
  }

  /** With an If-Match: the stored version, once checked against it (the write then applies only to that version). */
  private async matchedVersion(id: string, ifMatch: IfMatch): Promise<number | undefined> {
    if (ifMatch === null) return undefined;
    const stored = await this.stored(id, false);
    checkIfMatch(ifMatch, stored.version);
    return stored.version;
  }

  private async write(
    id: string,
    input: DirectoryGroupInput,
    caller: ScimCaller,
    expectedVersion: number | undefined,
  ): Promise<DirectoryGroup | null> {
    const group = await this.groups((groups) => groups.replaceGroup(id, input, { actor: caller.actor, expectedVersion }));
    if (group)
      this.options.logger.info(
        { groupId: id, members: group.members.length, version: group.version, actor: caller.actor },
        'SCIM group updated',
      );
    return group;
  }

  /** A write with the version If-Match named that lost a race: the client's precondition no longer holds. */
  private async conflictAsPrecondition<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw error instanceof GroupVersionConflictError ? new PreconditionFailedError() : error;
    }
  }

  /**
   * One page of the groups matching the filter, in creation order. `id`, `displayName`,
   * `externalId` and `members.value` eq go through an index; other filters are evaluated
   * in memory over at most `maxScan` groups. Members are read only when returned or filtered on.
   */
  async list(
    filter: FilterNode | null,
    page: { startIndex: number; count: number },
    members: boolean,
  ): Promise<{ groups: DirectoryGroup[]; total: number }> {
    return durableRead(this.options.store, async () => {
      const offset = page.startIndex - 1;
      if (!filter) {
        const { items, total } = await this.groups((groups) => groups.listGroups({ offset, limit: page.count }, { members }));
        return { groups: items, total };
      }
      const read = { members: members || filterReads(filter, 'members') };
      const keep = (groups: DirectoryGroup[]) =>
        groups.filter((group) => matchesFilter(filter, toScimGroup(group, '', { members: read.members })));
      const lookups = indexedLookups(filter, GROUP_INDEXED);
      const matching = lookups ? keep(await this.lookUp(lookups, read)) : await this.scan(keep, read);
      const pageOf = matching.slice(offset, offset + page.count);
      // Read with members for the filter but asked without: dropped here, as the store would have.
      return { groups: members ? pageOf : pageOf.map((group) => ({ ...group, members: [] })), total: matching.length };
    });
  }

  private async lookUp(lookups: Array<{ by: GroupLookup; value: string }>, read: { members: boolean }): Promise<DirectoryGroup[]> {
    const found = new Map<string, DirectoryGroup>();
    for (const { by, value } of lookups) {
      const groups =
        by === 'id' ? [await this.groups((g) => g.getGroup(value, read))] : await this.groups((g) => g.findGroups(by, value, read));
      for (const group of groups) if (group) found.set(group.id, group);
    }
    return [...found.values()].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id));
  }

  /** Every group, a chunk at a time, the event loop given a turn between chunks (as the User scan does). */
  private async scan(keep: (groups: DirectoryGroup[]) => DirectoryGroup[], read: { members: boolean }): Promise<DirectoryGroup[]> {
    const kept: DirectoryGroup[] = [];
    const chunk = 100;
    for (let offset = 0; ; offset += chunk) {
      const { items, total } = await this.groups((groups) => groups.listGroups({ offset, limit: chunk }, read));
      if (total > this.maxScan) {
        throw new GroupRequestError(
          400,
          'tooMany',
          `this filter needs a scan of more than ${this.maxScan} groups; filter by id, displayName, externalId or members.value (eq)`,
        );
      }
      kept.push(...keep(items));
      if (items.length < chunk) return kept;
      await setImmediate();
    }
  }
}
