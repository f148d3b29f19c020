/**
 * The `providers.<name>` block of a Google Workspace provider. Credentials are a
 * service-account key with domain-wide delegation (inline or a key file path); the
 * static `accessToken` exists for the sandbox only, because the JWT flow fetches its
 * token from a hard-coded Google URL.
 */
import { z } from 'zod';

/** Every scope the adapter can use, by what needs it (see docs/providers/google.md). */
export const GOOGLE_SCOPES = {
  /** users.get / users.list / users.update (suspend) / users.delete. */
  user: 'https://www.googleapis.com/auth/admin.directory.user',
  /** users.signOut, tokens.list/delete, asps.list/delete. */
  userSecurity: 'https://www.googleapis.com/auth/admin.directory.user.security',
  /** groups.list({userKey}): the member scope does not cover listing. */
  groupReadonly: 'https://www.googleapis.com/auth/admin.directory.group.readonly',
  /** members.delete. */
  groupMember: 'https://www.googleapis.com/auth/admin.directory.group.member',
  /** roleAssignments.list/delete (remove_admin_roles). */
  roleManagement: 'https://www.googleapis.com/auth/admin.directory.rolemanagement',
  /** transfers.insert/get/list. */
  dataTransfer: 'https://www.googleapis.com/auth/admin.datatransfer',
  /** mobiledevices.list (wipe_devices: the user's devices and their status): the action scope does not cover listing. */
  deviceMobileReadonly: 'https://www.googleapis.com/auth/admin.directory.device.mobile.readonly',
  /** mobiledevices.action (wipe_devices: admin_account_wipe, admin_remote_wipe). */
  deviceMobileAction: 'https://www.googleapis.com/auth/admin.directory.device.mobile.action',
} as const;

export const DEFAULT_GOOGLE_SCOPES: readonly string[] = Object.values(GOOGLE_SCOPES);

/**
 * Scopes of the calls made as the leaver (JWT subject = the user), not as the admin:
 * requested per API, each only by the action that needs it (docs/providers/google.md).
 */
export const GOOGLE_GMAIL_SCOPES: readonly string[] = [
  /** settings.getAutoForwarding/getImap/getPop, updateImap/updatePop, filters.list/delete, forwardingAddresses.list. */
  'https://www.googleapis.com/auth/gmail.settings.basic',
  /** settings.updateAutoForwarding, forwardingAddresses.delete. */
  'https://www.googleapis.com/auth/gmail.settings.sharing',
];
/** files.list and permissions.list/delete on the user's own files. */
export const GOOGLE_DRIVE_SCOPES: readonly string[] = ['https://www.googleapis.com/auth/drive'];

const serviceAccountKeySchema = z.object({
  client_email: z.email(),
  private_key: z.string().min(1),
});

export const googleConfigSchema = z
  .object({
    /** Customer for users.list in validate(), role assignments and mobile devices. Default `my_customer` (the admin's own customer). */
    customer: z.string().min(1).default('my_customer'),
    /** The admin the service account impersonates (JWT `sub`). Required even for the sandbox. */
    adminSubject: z.email(),
    /** Inline key (`client_email`, `private_key`) or the path of the JSON key file. */
    serviceAccountKey: z.union([serviceAccountKeySchema, z.string().min(1)]).optional(),
    /** Sandbox/testing only: a static bearer token instead of the JWT flow. */
    accessToken: z.string().min(1).optional(),
    /**
     * Scopes requested for the delegated token. Default: all of GOOGLE_SCOPES. Narrow it
     * when the delegation grants fewer: Google refuses a token asking for an ungranted scope.
     */
    scopes: z.array(z.string().min(1)).min(1).optional(),
    /** New owner of transferred files when the subject has no resolvable manager. Default none. */
    fallbackOwner: z.email().optional(),
    /**
     * API base URL, ending with `/`, for every Google API the adapter calls (Admin SDK,
     * Gmail, Drive): the sandbox serves them all. Default: each API's own host.
     */
    rootUrl: z.url().optional(),
    /** Per-request timeout. Default 30 000 ms. */
    timeoutMs: z.number().int().positive().default(30_000),
    /**
     * Delay reported on a rate-limit answer without Retry-After (Google's 403 quota answers
     * usually carry none). Default 1000 ms; the engine's own backoff grows from there.
     */
    rateLimitDelayMs: z.number().int().min(0).default(1000),
    /** Largest wait between two polls of a running data transfer. Default 60 000 ms. */
    transferPollMaxMs: z.number().int().positive().default(60_000),
  })
  .refine((c) => (c.serviceAccountKey === undefined) !== (c.accessToken === undefined), {
    error: 'give exactly one of serviceAccountKey (production) or accessToken (sandbox)',
    path: ['serviceAccountKey'],
  });

export type GoogleConfig = z.infer<typeof googleConfigSchema>;
export type GoogleConfigInput = z.input<typeof googleConfigSchema>;
