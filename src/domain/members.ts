/**
 * Fan-out of a client organization to its members (issue 28). An `expand_members` step lists
 * the organization's people at its provider when it runs (at the effective time, so it is
 * also the final sweep), and each member gets the step's actions as tasks of the same
 * termination. Pure: what a member task is called, what it carries, and the bounds.
 */
import { ACTIONS, CRITICAL_ACTIONS, type ActionName, type JsonObject, type Subject } from './types.ts';

/** At most this many members per expansion: a listing beyond it fails, for an operator to look at. */
export const MAX_MEMBERS_PER_EXPANSION = 50_000;

/** Actions a member task may take: not another expansion, not a person's checklist item. */
const NOT_PER_MEMBER: ReadonlySet<ActionName> = new Set<ActionName>(['expand_members', 'manual']);

/** One member as the expansion recorded them: the account their tasks start from. */
export interface ExpandedMember {
  id: string;
  email: string | null;
  login: string | null;
  account: JsonObject & { id: string };
}

/** What an expansion's success carries to the store, which creates the member tasks with it. */
export interface Expansion {
  members: ExpandedMember[];
  actions: ActionName[];
  /**
   * More members than the brake's `organizationMembers`: the member tasks are written, and the
   * termination is held until an operator approves it, with the count in the audit entry.
   */
  holdForApproval?: { threshold: number; notifyProvider: string | null };
}

export class InvalidExpansionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidExpansionError';
  }
}

/** The step's `params.actions`, checked: a non-empty list of distinct per-member actions. */
export function expansionActions(params: JsonObject): ActionName[] {
  const raw = Object.hasOwn(params, 'actions') ? params.actions : undefined;
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new InvalidExpansionError(
      'expand_members needs params.actions: the actions each member gets, e.g. [revoke_sessions, disable_account]',
    );
  }
  const actions: ActionName[] = [];
  for (const action of raw) {
    if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action) || NOT_PER_MEMBER.has(action as ActionName)) {
      throw new InvalidExpansionError(`expand_members: ${JSON.stringify(action)} is not an action a member can take`);
    }
    if (!actions.includes(action as ActionName)) actions.push(action as ActionName);
  }
  return actions;
}

/**
 * A member task's step id: the expansion's step, the member's id at the provider, the action.
 * Unique within the termination, so the same member and action is never created twice
 * (a retried expansion finds its tasks there), and readable in the evidence.
 */
export function memberStepId(parentStep: string, memberId: string, action: ActionName): string {
  return `${parentStep}/${memberId}/${action}`;
}

/** The params a member task runs with: the step's own (without the list of actions), and the member. */
export function memberParams(stepParams: JsonObject, member: ExpandedMember): JsonObject {
  const { actions: _actions, ...rest } = stepParams;
  return { ...rest, member: { id: member.id, email: member.email, login: member.login } };
}

export function isMemberCritical(action: ActionName): boolean {
  return CRITICAL_ACTIONS.includes(action);
}

/**
 * The person a member task acts on, from its params: adapters see the member, not the
 * organization, as the subject. Null for a task that is not a member's.
 */
export function memberSubject(params: JsonObject): Subject | null {
  const member = Object.hasOwn(params, 'member') ? params.member : undefined;
  if (typeof member !== 'object' || member === null || Array.isArray(member)) return null;
  const email = typeof member.email === 'string' ? member.email : null;
  const login = typeof member.login === 'string' ? member.login : null;
  const subject: Subject = { emails: email ? [email] : [] };
  if (login) subject.userName = login;
  return subject;
}
