/**
 * The configuration reference, as code. Every option states its default; docs/configuration.md
 * explains them. Values may come from the environment with `${VAR}` or `${VAR:-default}`.
 */
import { z } from 'zod';
import { DEFAULT_MAX_ON_DEMAND, DEFAULT_REVERIFY_OFFSETS_MS } from '../domain/reverify.ts';
import { ACTIONS } from '../domain/types.ts';
import { faultConfigSchema } from '../../providers/sandbox/faults.ts';
import { durationSchema } from './duration.ts';

const port = z.coerce.number().int().min(0).max(65535);

const retrySchema = z
  .object({
    /** First backoff step. Default 1s. */
    baseDelay: durationSchema.default(1000),
    /** Longest backoff between two attempts. Default 5m. */
    maxDelay: durationSchema.default(300_000),
    /** Attempts (rate-limit waits excluded) before a task is failed. Default 8. */
    maxAttempts: z.coerce.number().int().min(1).max(1000).default(8),
    /** Rate-limit waits before a task is failed: a provider that never lets us through must surface. Default 100. */
    maxRateLimitWaits: z.coerce.number().int().min(1).default(100),
    /** Longest Retry-After honoured; a longer one is capped so the task is retried and re-evaluated. Default 15m. */
    maxRetryAfter: durationSchema.default(900_000),
  })
  .strict();

const providerSchema = z
  .object({
    kind: z.string().min(1),
    /** Run this provider against its built-in emulator instead of the real API. */
    sandbox: z
      .object({
        /** The emulator holds an active account for any subject it is asked about. Default true. */
        autoProvision: z.boolean().default(true),
        faults: faultConfigSchema.partial().strict().optional(),
      })
      .strict()
      .optional(),
    limits: z
      .object({
        /** Tasks in flight at once against this provider. Default 8. */
        concurrency: z.coerce.number().int().min(1).max(1000).default(8),
        /** Tasks started per second; unset means no rate cap beyond concurrency. */
        tasksPerSecond: z.coerce.number().positive().optional(),
        /** HTTP requests per second to the provider from this process (sliding window); unset means none. */
        requestsPerSecond: z.coerce.number().positive().optional(),
      })
      .strict()
      .default({ concurrency: 8 }),
  })
  // The rest of the block belongs to the provider kind and is checked by its own schema.
  .catchall(z.unknown());

/** Where credentials or codes travel: https, or http on loopback (tests). */
const httpsOrLoopbackUrl = z
  .url()
  .refine((u) => u.startsWith('https://') || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(u), {
    error: 'expected an https URL (http only on loopback)',
  });

const oidcSchema = z
  .object({
    /** Issuer URL; its /.well-known/openid-configuration names the JWKS. https, or http on loopback (tests). */
    issuer: httpsOrLoopbackUrl,
    /** The `aud` the tokens must carry. */
    audience: z.string().min(1),
    /** Claim holding the caller's roles or groups (a string or an array of strings). Default `roles`. */
    roleClaim: z.string().min(1).default('roles'),
    /** Claim values that grant each role; operator wins when both match. A token with none is refused (403). */
    roles: z
      .object({ viewer: z.array(z.string().min(1)).default([]), operator: z.array(z.string().min(1)).default([]) })
      .strict()
      .default({ viewer: [], operator: [] }),
    /**
     * The console's "Sign in with" button: an authorization code + PKCE client registered at
     * the issuer. Roles come from the ID token's `roleClaim`, mapped by `roles` as above.
     */
    console: z
      .object({
        clientId: z.string().min(1).max(256),
        /** Omitted for a public client: PKCE alone binds the code to this console. */
        clientSecret: z.string().min(1).optional(),
        /**
         * Must be registered at the issuer and reach this daemon's /console/login/callback.
         * Default: that path on the host the browser used. Set it behind a TLS-terminating proxy.
         */
        redirectUri: httpsOrLoopbackUrl
          .refine((u) => new URL(u).pathname === '/console/login/callback', {
            error: 'expected a URL whose path is /console/login/callback',
          })
          .optional(),
        /** Scopes asked for; `openid` is required (the ID token names the operator). */
        scopes: z
          .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope is printable ASCII without spaces, quotes or backslashes'))
          .default(['openid', 'profile', 'email'])
          .refine((s) => s.includes('openid'), { error: 'must include openid' }),
      })
      .strict()
      .optional(),
  })
  .strict();

const stepSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, "_", "." or "-"'),
    /** A provider instance under `providers`; none for `manual` steps (a person does them). */
    provider: z.string().min(1).optional(),
    action: z.enum(ACTIONS),
    params: z.record(z.string(), z.json()).default({}),
    /** Step ids that must succeed (or be skipped) first. */
    after: z.array(z.string()).default([]),
    /** Wait after the effective time before this step may run (retention for deletes). Default 0. */
    delay: durationSchema.default(0),
    /** Counts toward time to revoke. Default: true for revoke_sessions, disable_account, deactivate_badge. */
    critical: z.boolean().optional(),
  })
  .strict();

/** Re-verification of a playbook's verified tasks after completion (docs/operations.md, "Drift"). */
const playbookReverifySchema = z
  .object({
    /** When to read back again, after completion. Default: the top-level `reverify.offsets`. `[]` turns it off for this playbook. */
    offsets: z.array(durationSchema).max(20).optional(),
    /** On drift, run the action again (audited `task.remediation`) and verify it. Default false: tell people only. */
    remediate: z.boolean().default(false),
  })
  .strict();

/**
 * How long a playbook's terminations keep their record and their personal data, counted from
 * when the termination finished. `personalData: record` keeps it as long as the record (an
 * employee's, for labour and tax law); a duration erases it once that ends (a client's
 * people after 30 days). The daemon's retention job erases what ran out (docs/privacy.md).
 */
const retentionSchema = z
  .object({
    /** How long the record must be kept: an erasure request waits for it when `personalData` is `record`. */
    record: durationSchema,
    /** How long personal data is kept: a duration, or `record` (as long as the record). */
    personalData: z.union([z.literal('record'), durationSchema]),
  })
  .strict()
  .refine((r) => r.personalData === 'record' || r.personalData <= r.record, {
    path: ['personalData'],
    error: 'expected at most the record period (or `record`)',
  });

/** The master key: 32 bytes, base64 (e.g. `openssl rand -base64 32`). */
const masterKeySchema = z
  .string()
  .trim()
  .refine((text) => /^[A-Za-z0-9+/]+={0,2}$/.test(text) && Buffer.from(text, 'base64').length === 32, {
    // The message never repeats the value.
    error: 'expected 32 bytes in base64 (openssl rand -base64 32)',
  });

const playbookSchema = z
  .object({
    description: z.string().optional(),
    steps: z.array(stepSchema).min(1),
    /**
     * Tell people when any step fails: a `notify` provider instance (and extra params).
     * The message is a task of its own, retried like any other. Default none.
     */
    onFailure: z
      .object({ provider: z.string().min(1), params: z.record(z.string(), z.json()).default({}) })
      .strict()
      .optional(),
    /** Re-verification after completion: offsets and remediation. Default: top-level offsets, no remediation. */
    reverify: playbookReverifySchema.default({ remediate: false }),
    /** Records retention (docs/privacy.md, "Retention"). Default none: records and personal data are kept. */
    retention: retentionSchema.optional(),
  })
  .strict();

/**
 * One rule of `playbookRules`: the playbook a leaver gets when the directory (what the IdP
 * pushed over SCIM) shows them in one of `groups` and with every listed attribute. Rules
 * are tried in order, the first that matches wins, `defaultPlaybook` otherwise; a request
 * that names a playbook skips them (docs/configuration.md).
 */
const playbookRuleSchema = z
  .object({
    /** Shown by `plan` and recorded on the termination's plan: which rule chose the playbook. */
    name: z.string().min(1).max(128),
    playbook: z.string().min(1),
    when: z
      .object({
        /** Any of these groups, by displayName or externalId (case-insensitive). */
        groups: z.array(z.string().min(1)).min(1).optional(),
        /**
         * Each attribute (a SCIM path: `userType`, `title`, `name.familyName`, or
         * `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`) equal to
         * one of its values (case-insensitive).
         */
        attributes: z.record(z.string().min(1), z.array(z.string()).min(1)).optional(),
      })
      .strict()
      .refine((when) => when.groups !== undefined || when.attributes !== undefined, {
        error: 'expected groups or attributes: a rule without a condition would match everyone',
      }),
  })
  .strict();

/** Settings of one intake channel (`intake.scim`, `intake.webhook`). */
const intakeChannelSchema = z
  .object({
    /** Channels whose terminations this one may cancel: each that asked for a termination must be listed. */
    mayCancel: z.array(z.enum(['scim', 'webhook', 'admin'])).min(1),
  })
  .strict();

/** A server timeout: 0, which Node reads as "no limit", would let a slow client hold a connection for ever. */
const serverTimeout = durationSchema.pipe(
  z.number().min(1, 'expected a duration above 0: 0 would let a slow client hold its connection for ever'),
);

export const configSchema = z
  .object({
    server: z
      .object({
        /** Interface to listen on. Default 127.0.0.1; use 0.0.0.0 in a container. */
        host: z.string().default('127.0.0.1'),
        /** Default 8080. */
        port: port.default(8080),
        /** Largest accepted request body. Default 256kb. */
        bodyLimit: z.string().default('256kb'),
        /** Time a client has to send its request headers. Default 10s. */
        headersTimeout: serverTimeout.default(10_000),
        /** Time a client has to send its whole request, body included: a slow body is cut after it. Default 30s. */
        requestTimeout: serverTimeout.default(30_000),
        /** Time an idle keep-alive connection stays open. Default 5s (Node's). */
        keepAliveTimeout: serverTimeout.default(5_000),
      })
      .strict()
      .refine((server) => server.headersTimeout <= server.requestTimeout, {
        path: ['headersTimeout'],
        error: 'expected at most requestTimeout',
      })
      .default({
        host: '127.0.0.1',
        port: 8080,
        bodyLimit: '256kb',
        headersTimeout: 10_000,
        requestTimeout: 30_000,
        keepAliveTimeout: 5_000,
      }),
    store: z.union([
      z.object({ sqlite: z.object({ path: z.string().min(1) }).strict() }).strict(),
      z
        .object({
          postgres: z
            .object({
              url: z.string().min(1),
              poolSize: z.coerce.number().int().min(1).default(10),
              /**
               * Schema holding the tables, created at start when missing. Default: the
               * connection's search_path (normally `public`). Replicas of one deployment share it.
               */
              schema: z
                .string()
                .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a schema name of lower-case letters, digits and _ (at most 63)')
                .optional(),
            })
            .strict(),
        })
        .strict(),
    ]),
    auth: z
      .object({
        /** Admin API bearer tokens and their roles. */
        admin: z
          .array(z.object({ name: z.string().min(1), token: z.string().min(16), role: z.enum(['viewer', 'operator']) }).strict())
          .default([]),
        /** Bearer tokens accepted on /scim/v2 (several, for rotation). */
        scim: z.array(z.string().min(16)).default([]),
        /** Standard Webhooks secrets (`whsec_...`) accepted on /webhooks/termination (several, for rotation). */
        webhook: z
          .array(
            z
              .string()
              .min(16)
              // Checked here so `config check` catches it; the message never repeats the value.
              .regex(/^(whsec_)?[A-Za-z0-9+/]+={0,2}$/, 'expected a Standard Webhooks secret: whsec_ followed by base64'),
          )
          .default([]),
        /** Serve /metrics without a token. Default false: Prometheus sends a viewer token. */
        publicMetrics: z.boolean().default(false),
        /** Admin API: also accept OIDC access tokens (JWTs) from this issuer. Unset: bearer tokens only. */
        oidc: oidcSchema.optional(),
      })
      .strict()
      .default({ admin: [], scim: [], webhook: [], publicMetrics: false }),
    engine: z
      .object({
        /** How long a claimed task is held before another worker may take it. Default 30s. */
        lease: durationSchema.default(30_000),
        /**
         * How much of its lease an attempt must have left to send a provider request (the
         * provider fence, docs/replicas.md). Default: a third of the lease (10s at 30s), which
         * the heartbeat, renewing every third of the lease, keeps. Less than half the lease.
         */
        leaseMargin: durationSchema.optional(),
        /** Longest single attempt (resolve, execute, verify) before it counts as a timeout. Default 60s. */
        attemptTimeout: durationSchema.default(60_000),
        /** On SIGTERM, how long in-flight tasks may finish before they are released. Default 10s. */
        shutdownGrace: durationSchema.default(10_000),
        retry: retrySchema.default(retrySchema.parse({})),
        /**
         * Run the provider requests of task attempts on a worker thread (default true): the
         * SDKs' CPU work then uses a second core beside intake and the store.
         */
        providerThread: z.boolean().default(true),
        /**
         * How many nice steps below the daemon's thread the attempt worker thread runs (Linux).
         * Default 0, the same priority: a higher value lets intake go first when the CPU is
         * short, at the cost of provider throughput during the burst (docs/configuration.md).
         */
        providerThreadNice: z.number().int().min(0).max(19).default(0),
      })
      .strict()
      .refine((engine) => engine.leaseMargin === undefined || engine.leaseMargin < engine.lease / 2, {
        error:
          'engine.leaseMargin must be less than half of engine.lease: the heartbeat renews every third of the lease, and an attempt whose lease had less left than the margin would send no request',
        path: ['leaseMargin'],
      })
      .default({
        lease: 30_000,
        attemptTimeout: 60_000,
        shutdownGrace: 10_000,
        retry: retrySchema.parse({}),
        providerThread: true,
        providerThreadNice: 0,
      }),
    providers: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'expected a lower-case name'), providerSchema),
    playbooks: z.record(z.string(), playbookSchema),
    /** Playbook used when a termination names none and no rule of playbookRules matches. */
    defaultPlaybook: z.string(),
    /** Rules that choose a leaver's playbook from their groups and attributes in the directory; first match wins. Default none. */
    playbookRules: z.array(playbookRuleSchema).max(100).default([]),
    /**
     * Re-verification after a termination completes: every verified task's read-back runs
     * again at these offsets, at low priority (only while its provider has no live task due,
     * `concurrency` at a time per provider, at most `tasksPerSecond`). Drift (access back)
     * is counted in `deprovisiond_drift_total`, audited, and told to the playbook's `onFailure`.
     */
    reverify: z
      .object({
        /** Default 1h, 24h, 7d, 30d after completion. `[]` turns re-verification off. */
        offsets: z
          .array(durationSchema)
          .max(20)
          .default([...DEFAULT_REVERIFY_OFFSETS_MS]),
        /** Re-verifications in flight per provider, beside (never instead of) live tasks. Default 1. */
        concurrency: z.coerce.number().int().min(1).max(100).default(1),
        /** Re-verifications started per second per provider. Default 1. */
        tasksPerSecond: z.coerce.number().positive().max(1000).default(1),
        /** How often due re-verifications are looked for when nothing woke the engine. Default 30s. */
        pollInterval: durationSchema.default(30_000),
        /** Terminations one `reverify --since` may queue; a wider window is refused. Default 500. */
        maxOnDemand: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_MAX_ON_DEMAND),
      })
      .strict()
      .default({
        offsets: [...DEFAULT_REVERIFY_OFFSETS_MS],
        concurrency: 1,
        tasksPerSecond: 1,
        pollInterval: 30_000,
        maxOnDemand: DEFAULT_MAX_ON_DEMAND,
      }),
    /**
     * Personal data at rest (docs/privacy.md): the master key wraps the keyring's data keys
     * and signs erasure receipts. Required on PostgreSQL; on SQLite without it a key file is
     * created beside the store (keep it out of the store's backups).
     */
    privacy: z
      .object({
        masterKey: masterKeySchema.optional(),
        /** SQLite: where the keyring's file is. Default beside the store (`<name>-keyring.db`). */
        keyringPath: z.string().min(1).optional(),
        /** How often the retention job looks for personal data whose retention ran out, and for due erasure requests. Default 1h. */
        retentionInterval: durationSchema.pipe(z.number().min(10, 'expected at least 10ms')).default(3_600_000),
      })
      .strict()
      .default({ retentionInterval: 3_600_000 }),
    audit: z
      .object({
        /**
         * How long audit entries are kept. Default 400d (a year-long audit period plus a
         * margin). Must outlast the longest playbook delay by 90 days, so a termination's
         * evidence is complete long after its last step; entries of open terminations are
         * never pruned.
         */
        retention: durationSchema.default(400 * 86_400_000),
      })
      .strict()
      .default({ retention: 400 * 86_400_000 }),
    /**
     * Per intake channel: whose terminations it may cancel (`termination.cancelled`
     * webhooks, SCIM reactivations). Default: only terminations that channel alone asked
     * for; operators cancel anything. Widen it for an HRIS that also cancels what the IdP
     * started, e.g. `webhook: { mayCancel: [webhook, scim] }` (docs/security.md).
     */
    intake: z
      .object({
        scim: intakeChannelSchema.optional(),
        webhook: intakeChannelSchema.optional(),
      })
      .strict()
      .optional(),
    /**
     * Blast-radius brake: more than `maxTerminations` within `window` puts new ones on
     * `held` until an operator approves them, so a compromised HRIS cannot wipe the company.
     * Default: off.
     */
    brake: z
      .object({
        maxTerminations: z.coerce.number().int().min(1),
        window: durationSchema,
        /** A `notify` provider instance told when a termination is held. Default none. */
        notify: z.string().min(1).optional(),
        /**
         * A client organization counts once toward `maxTerminations`, whatever its size; an
         * expansion that finds more members than this holds the termination (its member tasks
         * written, none run) until an operator approves, the count shown in the audit. Default: no limit.
         */
        organizationMembers: z.coerce.number().int().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (!Object.hasOwn(config.playbooks, config.defaultPlaybook)) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultPlaybook'],
        message: `expected one of the playbooks: ${Object.keys(config.playbooks).join(', ')}`,
      });
    }
    const ruleNames = new Set<string>();
    config.playbookRules.forEach((rule, i) => {
      if (!Object.hasOwn(config.playbooks, rule.playbook)) {
        ctx.addIssue({
          code: 'custom',
          path: ['playbookRules', i, 'playbook'],
          message: `expected one of the playbooks: ${Object.keys(config.playbooks).join(', ')}`,
        });
      }
      if (ruleNames.has(rule.name))
        ctx.addIssue({ code: 'custom', path: ['playbookRules', i, 'name'], message: `duplicate rule name "${rule.name}"` });
      ruleNames.add(rule.name);
    });
    for (const [name, playbook] of Object.entries(config.playbooks)) {
      const ids = new Set<string>();
      playbook.steps.forEach((step, i) => {
        const path = ['playbooks', name, 'steps', i];
        if (ids.has(step.id)) ctx.addIssue({ code: 'custom', path: [...path, 'id'], message: `duplicate step id "${step.id}"` });
        ids.add(step.id);
        if (step.action === 'manual') {
          if (step.provider !== undefined)
            ctx.addIssue({ code: 'custom', path: [...path, 'provider'], message: 'expected no provider: a person completes manual steps' });
        } else if (step.provider === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'provider'],
            message: `expected a provider defined under providers (${Object.keys(config.providers).join(', ')})`,
          });
        } else if (!Object.hasOwn(config.providers, step.provider)) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'provider'],
            message: `expected a provider defined under providers (${Object.keys(config.providers).join(', ')})`,
          });
        }
      });
      playbook.steps.forEach((step, i) => {
        step.after.forEach((dep, j) => {
          if (!ids.has(dep) || dep === step.id) {
            ctx.addIssue({
              code: 'custom',
              path: ['playbooks', name, 'steps', i, 'after', j],
              message: `expected another step id of this playbook, got "${dep}"`,
            });
          }
        });
      });
      if (playbook.onFailure && !Object.hasOwn(config.providers, playbook.onFailure.provider)) {
        ctx.addIssue({
          code: 'custom',
          path: ['playbooks', name, 'onFailure', 'provider'],
          message: 'expected a notify provider defined under providers',
        });
      }
      const cycle = findCycle(playbook.steps);
      if (cycle)
        ctx.addIssue({
          code: 'custom',
          path: ['playbooks', name, 'steps'],
          message: `steps depend on each other in a cycle: ${cycle.join(' -> ')}`,
        });
    }
    const longestDelay = Math.max(0, ...Object.values(config.playbooks).flatMap((p) => p.steps.map((s) => s.delay)));
    if (config.audit.retention < longestDelay + AUDIT_MARGIN_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['audit', 'retention'],
        message: `expected at least ${Math.ceil((longestDelay + AUDIT_MARGIN_MS) / 86_400_000)}d: the longest playbook delay plus 90 days, so evidence outlives the last step`,
      });
    }
    if (config.providers[MANUAL_PROVIDER]) {
      ctx.addIssue({
        code: 'custom',
        path: ['providers', MANUAL_PROVIDER],
        message: `"${MANUAL_PROVIDER}" is reserved for manual steps: choose another name`,
      });
    }
    if (config.brake?.notify && !Object.hasOwn(config.providers, config.brake.notify)) {
      ctx.addIssue({ code: 'custom', path: ['brake', 'notify'], message: 'expected a notify provider defined under providers' });
    }
  });

/** How long audit entries must outlast the longest playbook delay. */
const AUDIT_MARGIN_MS = 90 * 86_400_000;

/** Manual steps belong to no provider; their tasks carry this name and no worker claims them. */
export const MANUAL_PROVIDER = 'manual';

export type Config = z.infer<typeof configSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type PlaybookStep = z.infer<typeof stepSchema>;
export type Playbook = z.infer<typeof playbookSchema>;
export type PlaybookRule = z.infer<typeof playbookRuleSchema>;
export type RetryPolicy = z.infer<typeof retrySchema>;

function findCycle(steps: Array<{ id: string; after: string[] }>): string[] | null {
  const after = new Map(steps.map((s) => [s.id, s.after]));
  const state = new Map<string, 'visiting' | 'done'>();
  const walk = (id: string, trail: string[]): string[] | null => {
    if (state.get(id) === 'done') return null;
    if (state.get(id) === 'visiting') return [...trail.slice(trail.indexOf(id)), id];
    state.set(id, 'visiting');
    for (const dep of after.get(id) ?? []) {
      const found = walk(dep, [...trail, id]);
      if (found) return found;
    }
    state.set(id, 'done');
    return null;
  };
  for (const step of steps) {
    const found = walk(step.id, []);
    if (found) return found;
  }
  return null;
}
