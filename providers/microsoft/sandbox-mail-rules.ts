/**
 * The sandbox's slice of `/users/{id}/mailFolders/inbox/messageRules`: list and DELETE, in
 * Graph's messageRule shape. A user seeded without a mailbox answers 404 as Exchange
 * Online does for an unlicensed user.
 */
import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { SandboxControl } from '../sandbox/kit.ts';

/** What a test can seed: a rule that forwards, redirects, or only files mail. */
export interface SeedInboxRule {
  displayName?: string;
  forwardTo?: string[];
  forwardAsAttachmentTo?: string[];
  redirectTo?: string[];
  moveToFolder?: string;
}

interface StoredRule {
  id: string;
  displayName: string;
  actions: Record<string, unknown>;
}

type GraphErrorWriter = (res: Response, status: number, code: string, message: string) => void;

const recipients = (addresses: unknown) =>
  Array.isArray(addresses)
    ? addresses.filter((a) => typeof a === 'string').map((address) => ({ emailAddress: { name: address, address } }))
    : undefined;

export class MailRuleStore {
  /** Users with a mailbox, and their inbox rules in order. */
  private readonly byUser = new Map<string, StoredRule[]>();

  seed(userId: string, rules: SeedInboxRule[], mailbox: boolean): void {
    if (!mailbox) return;
    const stored = rules.map((rule, i) => {
      const actions: Record<string, unknown> = { stopProcessingRules: false };
      for (const key of ['forwardTo', 'forwardAsAttachmentTo', 'redirectTo'] as const) {
        const list = recipients(rule[key]);
        if (list) actions[key] = list;
      }
      if (typeof rule.moveToFolder === 'string') actions.moveToFolder = rule.moveToFolder;
      // Exchange rule ids are base64 strings ending in '='.
      return { id: `AQAAA${randomBytes(9).toString('base64')}=`, displayName: rule.displayName ?? `Rule ${i + 1}`, actions };
    });
    this.byUser.set(userId, stored);
  }

  /** Display names of the user's rules (for the control API); null without a mailbox. */
  names(userId: string): string[] | null {
    return this.byUser.get(userId)?.map((r) => r.displayName) ?? null;
  }

  route(
    userId: string,
    parts: { folder: string | undefined; collection: string | undefined; ruleId: string | undefined },
    req: Request,
    res: Response,
    io: { control: SandboxControl; graphError: GraphErrorWriter; root: string },
  ): boolean {
    if (parts.folder?.toLowerCase() !== 'inbox' || parts.collection?.toLowerCase() !== 'messagerules') return false;
    const rules = this.byUser.get(userId);
    if (!rules) {
      io.graphError(res, 404, 'MailboxNotEnabledForRESTAPI', 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.');
      return true;
    }
    if (parts.ruleId === undefined && req.method === 'GET') {
      res.json({
        '@odata.context': `${io.root}/$metadata#users('${userId}')/mailFolders('inbox')/messageRules`,
        value: rules.map((r, i) => ({
          id: r.id,
          displayName: r.displayName,
          sequence: i + 1,
          isEnabled: true,
          hasError: false,
          isReadOnly: false,
          conditions: {},
          actions: r.actions,
        })),
      });
      return true;
    }
    if (parts.ruleId === undefined || req.method !== 'DELETE') return false;
    const index = rules.findIndex((r) => r.id === parts.ruleId);
    if (index < 0) {
      io.graphError(res, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
      return true;
    }
    if (io.control.lie()) {
      res.status(204).end();
      return true;
    }
    rules.splice(index, 1);
    io.control.countWrite('remove_inbox_rule', userId);
    res.status(204).end();
    return true;
  }
}
