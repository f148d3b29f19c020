/**
 * The `providers.<name>` config block of an LDAP directory or Active Directory domain.
 * The daemon binds as a dedicated service account (bind DN and password from the
 * environment), over LDAPS or StartTLS with the directory's CA pinned: a simple bind
 * sends the password as it is, so it never crosses a network in clear text.
 */
import { z } from 'zod';

const LOOPBACK = /^(127\.0\.0\.1|localhost|\[::1\])$/;

/** An attribute description (RFC 4512 `descr`): safe to name in a filter or a change. */
const attributeName = z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,63}$/, 'expected an LDAP attribute name (letters, digits, hyphens)');

/** A DN as the operator wrote it; compared case-insensitively by the adapter. */
const dn = z.string().min(3).max(1024).regex(/=/, 'expected a distinguished name such as OU=Disabled,DC=corp,DC=example,DC=com');

export const ldapFlavors = ['active_directory', 'openldap'] as const;
export type LdapFlavor = (typeof ldapFlavors)[number];

export const ldapConfigSchema = z
  .object({
    /**
     * `ldaps://host[:636]`, or `ldap://host[:389]` with `tls.startTls: true`. Plain `ldap://`
     * without StartTLS only on a loopback host. `http://127.0.0.1:port` is the built-in
     * sandbox's transport (an emulated directory; see docs/providers/ldap.md).
     */
    url: z.url({ protocol: /^(ldaps?|http)$/ }),
    tls: z
      .object({
        /** PEM of the CA (or CAs) that signed the directory's certificate: the only ones trusted. */
        ca: z.string().min(1).optional(),
        /** Upgrade an `ldap://` connection with StartTLS before binding. Default false. */
        startTls: z.boolean().default(false),
        /** The name the certificate must carry, when it differs from the URL's host. */
        servername: z.string().min(1).optional(),
      })
      .strict()
      .default({ startTls: false }),
    /** The service account's DN (e.g. CN=svc-deprovisiond,OU=Service Accounts,DC=corp,DC=example,DC=com). */
    bindDn: dn,
    bindPassword: z.string().min(1),
    /** Where accounts are searched (subtree) and, unless `groupsBaseDn` says otherwise, groups too. */
    baseDn: dn,
    groupsBaseDn: dn.optional(),
    /** Which semantics: Active Directory (Samba AD too) or a generic LDAP server such as OpenLDAP. */
    flavor: z.enum(ldapFlavors).default('active_directory'),
    /**
     * How the subject's entry is found: an equality match of `attribute` against the subject's
     * `from` (`userNameLocalPart`: the part of the user name before `@`, as sAMAccountName
     * usually is). Values are sent as filter values, never spliced into filter text.
     */
    lookup: z
      .object({
        attribute: attributeName.default('mail'),
        from: z.enum(['email', 'userName', 'userNameLocalPart', 'externalId']).default('email'),
      })
      .strict()
      .default({ attribute: 'mail', from: 'email' }),
    disable: z
      .object({
        /** Move the disabled entry under this OU (its RDN kept). Default: leave it where it is. */
        moveToOu: dn.optional(),
        /** Active Directory: also set accountExpires to now. Default true. */
        setAccountExpires: z.boolean().default(true),
        /** Generic LDAP: the attribute that locks the account. Default OpenLDAP ppolicy's pwdAccountLockedTime. */
        lockAttribute: attributeName.default('pwdAccountLockedTime'),
        /** Its value; ppolicy reads 000001010000Z as "locked until an administrator unlocks". */
        lockValue: z.string().min(1).max(256).default('000001010000Z'),
        /**
         * Also set the password to a random one the daemon forgets at once. Active Directory
         * accepts a password only over an encrypted connection. Default false.
         */
        resetPassword: z.boolean().default(false),
      })
      .strict()
      .default({ setAccountExpires: true, lockAttribute: 'pwdAccountLockedTime', lockValue: '000001010000Z', resetPassword: false }),
    /**
     * Generic LDAP: the group attributes that list members, each holding the member's DN
     * (`member`, `uniqueMember`) or its `uid` (`memberUid`, posixGroup). Active Directory
     * always uses `member`.
     */
    memberAttributes: z
      .array(z.enum(['member', 'uniqueMember', 'memberUid']))
      .min(1)
      .default(['member', 'uniqueMember', 'memberUid']),
    /** Per-operation timeout; a timed-out operation is retried by the engine as transient. Default 30 s. */
    requestTimeoutMs: z.number().int().positive().max(300_000).default(30_000),
  })
  .strict()
  .superRefine((config, ctx) => {
    const url = new URL(config.url);
    const loopback = LOOPBACK.test(url.hostname);
    if (url.protocol === 'http:' && !loopback) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'http:// is the sandbox transport: loopback hosts only; use ldaps:// or ldap:// with tls.startTls',
      });
    }
    if (url.protocol === 'ldap:' && !config.tls.startTls && !loopback) {
      ctx.addIssue({
        code: 'custom',
        path: ['tls', 'startTls'],
        message: 'ldap:// would send the bind password in clear text: use ldaps:// or set tls.startTls: true',
      });
    }
    if (url.protocol !== 'ldaps:' && !config.tls.startTls && config.tls.ca !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['tls', 'ca'],
        message: 'a CA is pinned but the connection is not encrypted: use ldaps:// or set tls.startTls: true',
      });
    }
    const encrypted = url.protocol === 'ldaps:' || config.tls.startTls || url.protocol === 'http:';
    if (config.flavor === 'active_directory' && config.disable.resetPassword && !encrypted) {
      ctx.addIssue({
        code: 'custom',
        path: ['disable', 'resetPassword'],
        message: 'Active Directory sets passwords only over an encrypted connection: use ldaps:// or tls.startTls',
      });
    }
  });

export type LdapConfig = z.output<typeof ldapConfigSchema>;
export type LdapConfigInput = z.input<typeof ldapConfigSchema>;
