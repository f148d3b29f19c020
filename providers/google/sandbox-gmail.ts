/**
 * The Gmail settings part of the Google sandbox: per user automatic forwarding,
 * forwarding addresses, filters, IMAP and POP, on Gmail's own paths
 * (`/gmail/v1/users/{userId}/settings/...`) and JSON shapes, so the real
 * `@googleapis/gmail` client runs against it. Registered by sandbox.ts.
 *
 * `userId` must be the user's address: the sandbox has one static token, so it cannot tell
 * who `me` is (Google can: the token names the user). The adapter sends the address.
 */
import type express from 'express';
import type { Request, Response } from 'express';
import type { SandboxControl } from '../sandbox/kit.ts';

export interface GmailFilter {
  id: string;
  criteria: { from?: string; subject?: string };
  action: { forward?: string; addLabelIds?: string[] };
}

export interface GmailSettings {
  autoForwarding: { enabled: boolean; emailAddress?: string; disposition?: string };
  forwardingAddresses: Array<{ forwardingEmail: string; verificationStatus: 'accepted' | 'pending' }>;
  filters: GmailFilter[];
  imap: { enabled: boolean; autoExpunge: boolean; expungeBehavior: string; maxFolderSize: number };
  pop: { accessWindow: string; disposition: string };
}

/** What a seeded user's mailbox starts with. */
export interface GmailSeed {
  /** An accepted forwarding address, with automatic forwarding to it on. */
  forwardTo?: string;
  /** Filters forwarding to `forwardTo` (one label-only filter is added beside them). */
  forwardingFilters?: number;
  imap?: boolean;
  pop?: boolean;
}

const POP_WINDOWS = new Set(['accessWindowUnspecified', 'disabled', 'fromNowOn', 'allMail']);
const DISPOSITIONS = new Set(['dispositionUnspecified', 'leaveInInbox', 'archive', 'trash', 'markRead']);

/** Every user's Gmail settings, by Google user id. */
export class GmailSettingsStore {
  readonly byUser = new Map<string, GmailSettings>();
  private sequence = 0;

  seed(userId: string, input: GmailSeed): GmailSettings {
    const settings: GmailSettings = {
      autoForwarding: { enabled: false },
      forwardingAddresses: [],
      filters: [],
      imap: { enabled: input.imap ?? false, autoExpunge: true, expungeBehavior: 'archive', maxFolderSize: 0 },
      pop: { accessWindow: input.pop ? 'allMail' : 'disabled', disposition: 'leaveInInbox' },
    };
    if (input.forwardTo) this.addForwarding(settings, input.forwardTo);
    for (let i = 0; i < (input.forwardingFilters ?? 0); i += 1) {
      settings.filters.push({
        id: this.filterId(),
        criteria: { from: `sender${i}@partner.example` },
        action: { forward: input.forwardTo ?? 'out@elsewhere.example' },
      });
    }
    if ((input.forwardingFilters ?? 0) > 0) {
      settings.filters.push({ id: this.filterId(), criteria: { subject: 'invoice' }, action: { addLabelIds: ['Label_1'] } });
    }
    this.byUser.set(userId, settings);
    return settings;
  }

  /** An accepted forwarding address, and automatic forwarding to it on (drift, seeding). */
  addForwarding(settings: GmailSettings, address: string): void {
    if (!settings.forwardingAddresses.some((a) => a.forwardingEmail === address)) {
      settings.forwardingAddresses.push({ forwardingEmail: address, verificationStatus: 'accepted' });
    }
    settings.autoForwarding = { enabled: true, emailAddress: address, disposition: 'leaveInInbox' };
  }

  /** Gmail filter ids are opaque strings. */
  private filterId(): string {
    this.sequence += 1;
    return `ANe1Bmj${String(this.sequence).padStart(8, '0')}`;
  }
}

type GoogleErrorFn = (res: Response, code: number, message: string, reason: string, status?: string) => void;

function param(req: Request, name: string): string {
  const value = req.params[name];
  return typeof value === 'string' ? value : '';
}

function body(req: Request): Record<string, unknown> {
  const value: unknown = req.body;
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function forwardingJson(settings: GmailSettings): Record<string, unknown> {
  const f = settings.autoForwarding;
  return f.enabled ? { enabled: true, emailAddress: f.emailAddress, disposition: f.disposition } : { enabled: false };
}

export function registerGmailRoutes(
  app: express.Express,
  control: SandboxControl,
  deps: {
    store: GmailSettingsStore;
    /** The user a path's userId names (autoProvision creates one), or undefined. */
    userFor(key: string): { id: string } | undefined;
    googleError: GoogleErrorFn;
  },
): void {
  const S = '/gmail/v1/users/:userId/settings';
  const invalid = (res: Response, message: string) => deps.googleError(res, 400, message, 'invalidArgument', 'INVALID_ARGUMENT');
  const notFound = (res: Response) => deps.googleError(res, 404, 'Requested entity was not found.', 'notFound', 'NOT_FOUND');

  /** The mailbox of the path's user; Gmail settings exist for every user (defaults: all off). */
  const mailbox = (req: Request, res: Response): { userId: string; settings: GmailSettings } | undefined => {
    const key = param(req, 'userId');
    if (key === 'me') {
      invalid(res, 'the sandbox has one static token and cannot tell who "me" is: send the address');
      return undefined;
    }
    const user = deps.userFor(key);
    if (!user) {
      // What Gmail answers when the token's user and the path's differ.
      deps.googleError(res, 403, `Delegation denied for ${key}`, 'forbidden', 'PERMISSION_DENIED');
      return undefined;
    }
    const settings = deps.store.byUser.get(user.id) ?? deps.store.seed(user.id, {});
    return { userId: user.id, settings };
  };

  app.get(`${S}/autoForwarding`, (req, res) => {
    const box = mailbox(req, res);
    if (box) res.json(forwardingJson(box.settings));
  });

  app.put(`${S}/autoForwarding`, (req, res) => {
    const box = mailbox(req, res);
    if (!box) return;
    const b = body(req);
    if (typeof b.enabled !== 'boolean') return invalid(res, 'Invalid enabled');
    let next: GmailSettings['autoForwarding'] = { enabled: false };
    if (b.enabled) {
      // Only an accepted forwarding address may receive automatic forwarding.
      const address = typeof b.emailAddress === 'string' ? b.emailAddress : '';
      if (!box.settings.forwardingAddresses.some((a) => a.forwardingEmail === address && a.verificationStatus === 'accepted')) {
        return deps.googleError(res, 400, 'Unverified forwarding address', 'failedPrecondition', 'FAILED_PRECONDITION');
      }
      const disposition = typeof b.disposition === 'string' && DISPOSITIONS.has(b.disposition) ? b.disposition : 'leaveInInbox';
      next = { enabled: true, emailAddress: address, disposition };
    }
    if (control.lie()) return void res.json(next.enabled ? next : { enabled: false });
    box.settings.autoForwarding = next;
    control.countWrite('gmail.updateAutoForwarding', box.userId);
    res.json(forwardingJson(box.settings));
  });

  app.get(`${S}/imap`, (req, res) => {
    const box = mailbox(req, res);
    if (box) res.json(box.settings.imap);
  });

  app.put(`${S}/imap`, (req, res) => {
    const box = mailbox(req, res);
    if (!box) return;
    const b = body(req);
    if ('enabled' in b && typeof b.enabled !== 'boolean') return invalid(res, 'Invalid enabled');
    const next = { ...box.settings.imap, ...(typeof b.enabled === 'boolean' ? { enabled: b.enabled } : {}) };
    if (control.lie()) return void res.json(next);
    box.settings.imap = next;
    control.countWrite('gmail.updateImap', box.userId);
    res.json(next);
  });

  app.get(`${S}/pop`, (req, res) => {
    const box = mailbox(req, res);
    if (box) res.json(box.settings.pop);
  });

  app.put(`${S}/pop`, (req, res) => {
    const box = mailbox(req, res);
    if (!box) return;
    const b = body(req);
    if ('accessWindow' in b && (typeof b.accessWindow !== 'string' || !POP_WINDOWS.has(b.accessWindow))) {
      return invalid(res, 'Invalid accessWindow');
    }
    if ('disposition' in b && (typeof b.disposition !== 'string' || !DISPOSITIONS.has(b.disposition))) {
      return invalid(res, 'Invalid disposition');
    }
    const next = {
      ...box.settings.pop,
      ...(typeof b.accessWindow === 'string' ? { accessWindow: b.accessWindow } : {}),
      ...(typeof b.disposition === 'string' ? { disposition: b.disposition } : {}),
    };
    if (control.lie()) return void res.json(next);
    box.settings.pop = next;
    control.countWrite('gmail.updatePop', box.userId);
    res.json(next);
  });

  app.get(`${S}/filters`, (req, res) => {
    const box = mailbox(req, res);
    // filters.list has no paging; an empty list omits the field.
    if (box) res.json(box.settings.filters.length > 0 ? { filter: box.settings.filters } : {});
  });

  app.delete(`${S}/filters/:id`, (req, res) => {
    const box = mailbox(req, res);
    if (!box) return;
    const index = box.settings.filters.findIndex((f) => f.id === param(req, 'id'));
    if (index < 0) return notFound(res);
    if (control.lie()) return void res.status(204).end();
    box.settings.filters.splice(index, 1);
    control.countWrite('gmail.filters.delete', box.userId);
    res.status(204).end();
  });

  app.get(`${S}/forwardingAddresses`, (req, res) => {
    const box = mailbox(req, res);
    if (box) res.json(box.settings.forwardingAddresses.length > 0 ? { forwardingAddresses: box.settings.forwardingAddresses } : {});
  });

  app.delete(`${S}/forwardingAddresses/:forwardingEmail`, (req, res) => {
    const box = mailbox(req, res);
    if (!box) return;
    const index = box.settings.forwardingAddresses.findIndex((a) => a.forwardingEmail === param(req, 'forwardingEmail'));
    if (index < 0) return notFound(res);
    if (control.lie()) return void res.status(204).end();
    box.settings.forwardingAddresses.splice(index, 1);
    control.countWrite('gmail.forwardingAddresses.delete', box.userId);
    res.status(204).end();
  });
}
