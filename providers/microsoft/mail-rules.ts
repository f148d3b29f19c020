/**
 * stop_mail_forwarding on Microsoft Graph: the Outlook inbox rules that forward or redirect
 * mail are deleted (or every rule, with `rules: all`), and the read-back must find none.
 * Mailbox-level forwarding (`ForwardingSmtpAddress`, set with Exchange PowerShell) is not
 * reachable through Graph: docs/providers/microsoft.md says so.
 */
import type { AccountRef, ActionContext, ActionHandler, Evidence, ExecuteResult } from '../contract.ts';
import { PermanentError, VerificationError } from '../contract.ts';
import type { JsonObject } from '../../src/domain/types.ts';
import { seg, type GraphApi } from './graph-client.ts';

interface Recipient {
  emailAddress?: { address?: string | null } | null;
}

interface MessageRule {
  id: string;
  displayName?: string | null;
  isEnabled?: boolean;
  // Hostile until checked: a list may hold nulls.
  actions?: Partial<Record<(typeof FORWARDING_ACTIONS)[number], Array<Recipient | null> | null>> | null;
}

/** The rule actions that send a copy of the user's mail somewhere else. */
const FORWARDING_ACTIONS = ['forwardTo', 'forwardAsAttachmentTo', 'redirectTo'] as const;

type Scope = 'forwarding' | 'all';

function scopeOf(ctx: ActionContext): Scope {
  const rules = ctx.params.rules ?? 'forwarding';
  if (rules !== 'forwarding' && rules !== 'all') {
    throw new PermanentError(`Microsoft stop_mail_forwarding: unknown rules ${JSON.stringify(rules)} (forwarding or all)`);
  }
  return rules;
}

/** The recipients of one rule action; anything but a list (a hostile or odd answer) counts as none. */
function recipientsOf(rule: MessageRule, action: (typeof FORWARDING_ACTIONS)[number]): Array<Recipient | null> {
  const list: unknown = rule.actions?.[action];
  return Array.isArray(list) ? (list as Array<Recipient | null>) : [];
}

function forwards(rule: MessageRule): boolean {
  return FORWARDING_ACTIONS.some((action) => recipientsOf(rule, action).length > 0);
}

/** Where the rule sends mail: the addresses are what a security review needs to follow up. */
function ruleEvidence(rule: MessageRule): JsonObject {
  const targets = FORWARDING_ACTIONS.flatMap((action) =>
    recipientsOf(rule, action)
      .map((r) => r?.emailAddress?.address)
      .filter((a): a is string => typeof a === 'string'),
  );
  return { id: rule.id, displayName: rule.displayName ?? null, forwardsTo: targets };
}

const rulesPath = (userId: string) => `/users/${seg(userId)}/mailFolders/inbox/messageRules`;

/** The inbox rules, or null when the user has no Exchange Online mailbox (Graph answers 404). */
async function listRules(graph: GraphApi, userId: string, signal: AbortSignal): Promise<MessageRule[] | null> {
  const first = await graph.call<{ value?: MessageRule[]; '@odata.nextLink'?: string }>({
    method: 'GET',
    path: rulesPath(userId),
    signal,
    notFoundIsNull: true,
  });
  if (!first) return null;
  // The first page is read with notFoundIsNull; the rest (rare: rules are few) through collect.
  const next = first['@odata.nextLink'];
  if (!next) return first.value ?? [];
  return graph.collect<MessageRule>({ method: 'GET', path: rulesPath(userId), signal });
}

export function stopMailForwarding(graph: GraphApi): ActionHandler {
  return {
    execute: async (account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> => {
      const scope = scopeOf(ctx);
      const rules = await listRules(graph, account.id, ctx.signal);
      if (!rules) return { skipped: 'the user has no Exchange Online mailbox', evidence: { mailbox: null } };
      const targets = scope === 'all' ? rules : rules.filter(forwards);
      const removed: JsonObject[] = [];
      const alreadyGone: JsonObject[] = [];
      for (const rule of targets) {
        const answer = await graph.send({
          method: 'DELETE',
          path: `${rulesPath(account.id)}/${seg(rule.id)}`,
          signal: ctx.signal,
          notFoundIsNull: true,
        });
        (answer.status === 404 ? alreadyGone : removed).push(ruleEvidence(rule));
      }
      return {
        evidence: {
          rules: scope,
          removed,
          alreadyGone,
          kept: rules.filter((r) => !targets.includes(r)).map((r) => ({ id: r.id, displayName: r.displayName ?? null })),
          mailboxForwarding: 'outside Graph: Exchange Online PowerShell only',
          alreadyDone: removed.length === 0,
        },
      };
    },
    verify: async (account: AccountRef, ctx: ActionContext): Promise<Evidence> => {
      const scope = scopeOf(ctx);
      const rules = await listRules(graph, account.id, ctx.signal);
      if (!rules) return { mailbox: null };
      const remaining = scope === 'all' ? rules : rules.filter(forwards);
      if (remaining.length > 0) {
        throw new VerificationError(scope === 'all' ? 'inbox rules remain' : 'forwarding inbox rules remain', {
          remainingRules: remaining.map(ruleEvidence),
        });
      }
      // What was read is the inbox rules, and the evidence names that scope. Mailbox-level
      // forwarding is outside this action (Graph cannot reach it): were it reported here as
      // "not verifiable", the inbox rules this read did prove would be labelled unproven.
      return {
        rules: scope,
        remainingForwardingRules: 0,
        inboxRules: rules.length,
        scope: 'inbox rules; mailbox-level forwarding is outside Graph',
      };
    },
  };
}
