/**
 * SCIM Groups in the subject directory: what Entra ("Provision Microsoft Entra ID Groups")
 * and Okta (Push Groups) push beside the users. Deprovisioning reads them to choose a
 * leaver's playbook (config `playbookRules`); SCIM clients read them back to reconcile.
 * Members are directory users, referenced by their id (`members[].value`).
 */
export interface GroupMember {
  /** The member's directory user id. */
  value: string;
  /** The `display` the client sent with it, if any. */
  display: string | null;
}

export interface DirectoryGroup {
  id: string;
  displayName: string;
  externalId: string | null;
  /** Empty when read without members (`excludedAttributes=members`). */
  members: GroupMember[];
  /** Starts at 1, bumped by every write (membership changes too): the ETag. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface DirectoryGroupInput {
  displayName: string;
  externalId: string | null;
  members: GroupMember[];
}

/** The group of a user, as playbook rules read it. */
export type GroupSummary = Pick<DirectoryGroup, 'id' | 'displayName' | 'externalId'>;

/** Who writes, and (optimistic concurrency) the version the write was computed from. */
export interface GroupWrite {
  actor: string;
  /** The write applies only while the stored version is this one (GroupVersionConflictError otherwise). */
  expectedVersion?: number;
}

/** Members named that are not directory users: nothing was written (answered 400). */
export class GroupMemberNotFoundError extends Error {
  constructor(readonly ids: string[]) {
    super(
      `members not found as users: ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ` and ${ids.length - 5} more` : ''}; provision the users before adding them to a group`,
    );
    this.name = 'GroupMemberNotFoundError';
  }
}

/** The group changed since the version the write was computed from: nothing was written. */
export class GroupVersionConflictError extends Error {
  constructor(
    readonly id: string,
    readonly expected: number,
  ) {
    super(`group ${id} is no longer at version ${expected}`);
    this.name = 'GroupVersionConflictError';
  }
}

export interface GroupReadOptions {
  /** False to skip the membership rows (a 50,000-member group read only for its name). */
  members: boolean;
}

export interface GroupDirectory {
  /** Audited (`scim.group.created`, member ids only). Throws GroupMemberNotFoundError. */
  createGroup(id: string, input: DirectoryGroupInput, write: GroupWrite): Promise<DirectoryGroup>;
  getGroup(id: string, options?: GroupReadOptions): Promise<DirectoryGroup | null>;
  /** Groups whose displayName (case-insensitive), externalId (exact) or member is `value`, in creation order. */
  findGroups(by: 'displayName' | 'externalId' | 'member', value: string, options?: GroupReadOptions): Promise<DirectoryGroup[]>;
  /** One page in creation order (`offset` from 0), with the total number of groups. */
  listGroups(page: { offset: number; limit: number }, options?: GroupReadOptions): Promise<{ items: DirectoryGroup[]; total: number }>;
  /**
   * Replaces name, externalId and the member list in one transaction; the members added and
   * removed are audited (`scim.group.members_changed`). Null when the group does not exist.
   * Throws GroupMemberNotFoundError, GroupVersionConflictError.
   */
  replaceGroup(id: string, input: DirectoryGroupInput, write: GroupWrite): Promise<DirectoryGroup | null>;
  /** Audited (`scim.group.deleted`). False when the group did not exist. Throws GroupVersionConflictError. */
  deleteGroup(id: string, write: GroupWrite): Promise<boolean>;
  /** The groups a user is a member of, in creation order. */
  groupsOf(userId: string): Promise<GroupSummary[]>;
  /** The same for several users at once (a page of a list): users in no group have no entry. */
  groupsOfUsers(userIds: readonly string[]): Promise<Map<string, GroupSummary[]>>;
}
