/**
 * The subject directory: the users SCIM clients (Okta, Entra) push to us, so that a later
 * deactivation can be turned into a Subject with every identifier the provider adapters
 * resolve accounts by. Kept beside the Store on the same Kysely instance; the SQL side, with
 * the user's personal data sealed under a data key of its own, is sql/directory-users.ts.
 */
import type { JsonObject } from '../domain/types.ts';

export interface DirectoryUser {
  id: string;
  userName: string;
  externalId: string | null;
  active: boolean;
  /** Enterprise extension `manager.value`: the id of the manager's own entry, when known. */
  managerId: string | null;
  /** The SCIM attributes as the client sent them (core and extensions), without id, meta, schemas or password. */
  attributes: JsonObject;
  /** Starts at 1, bumped by every write. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface DirectoryUserInput {
  userName: string;
  externalId: string | null;
  active: boolean;
  managerId: string | null;
  attributes: JsonObject;
}

/** Another entry already holds this userName (compared case-insensitively). */
export class DirectoryConflictError extends Error {
  constructor(readonly userName: string) {
    super('a user with this userName already exists');
    this.name = 'DirectoryConflictError';
  }
}

export interface SubjectDirectory {
  /** Throws DirectoryConflictError when the userName is taken (case-insensitive). */
  createUser(id: string, input: DirectoryUserInput): Promise<DirectoryUser>;
  getUser(id: string): Promise<DirectoryUser | null>;
  /** Case-insensitive, indexed. */
  findByUserName(userName: string): Promise<DirectoryUser | null>;
  /** Indexed; externalId is not unique in SCIM, so several entries may share one. */
  findByExternalId(externalId: string): Promise<DirectoryUser[]>;
  /** Replaces every attribute; null when the entry does not exist. Throws DirectoryConflictError on a taken userName. */
  replaceUser(id: string, input: DirectoryUserInput): Promise<DirectoryUser | null>;
  /** False when the entry did not exist. */
  deleteUser(id: string): Promise<boolean>;
  /** One page in creation order (`offset` from 0), with the total number of entries. */
  listUsers(page: { offset: number; limit: number }): Promise<{ items: DirectoryUser[]; total: number }>;
  /**
   * Erases a person from the directory (issue 29): every user filed under any of the subject
   * keys (`ext:…`, `user:…`, `email:…` in plain form, as src/domain/subject.ts forms them)
   * loses its data key, its row and its group memberships, in one transaction. What was
   * sealed under the keys is unrecoverable from then on, in every copy of the database.
   */
  eraseSubject(subjectKeys: string[]): Promise<{ users: number }>;
}

/** Lower-casing in JS, not SQL: SQLite's lower() only folds ASCII, so both dialects must agree on one rule. */
export const foldUserName = (userName: string) => userName.toLowerCase();
