/**
 * The `providers.<name>` config block of one AWS account's IAM: the credentials of a
 * principal allowed the calls in docs/providers/aws.md, and how a leaver's IAM user is found
 * (a tag on the user, or a user name made from the subject). IAM is a global service: the
 * SDK signs for `us-east-1` and talks to `https://iam.amazonaws.com` unless `endpoint` says
 * otherwise (the sandbox; a partition such as China or GovCloud).
 */
import { z } from 'zod';
import { secureUrl } from '../http/secure-url.ts';

/** IAM's rule for user names: letters, digits and `_+=,.@-`, 1 to 64 characters. */
export const IAM_USER_NAME = /^[\w+=,.@-]{1,64}$/;

/** The placeholders a user-name template may use. */
export const TEMPLATE_PLACEHOLDERS = ['local', 'email', 'userName', 'externalId'] as const;

export const awsLookupSchema = z.discriminatedUnion('by', [
  /**
   * A tag on the IAM user whose value is the subject's `from` value (compared without case).
   * IAM's ListUsers returns no tags, so every user is listed (ListUsers, narrowed by
   * `pathPrefix`) and each one's tags read (ListUserTags): one request per user. Two users
   * carrying the value are refused rather than guessed between.
   */
  z
    .object({
      by: z.literal('tag'),
      /** The tag key. Default `email`. */
      key: z.string().min(1).max(128).default('email'),
      /** Which subject attribute the tag holds. Default `email` (any of the subject's emails). */
      from: z.enum(['email', 'userName', 'externalId']).default('email'),
      /** Only users under this IAM path are listed (`/people/`). Default `/`: every user. */
      pathPrefix: z
        .string()
        .regex(/^\/([\x21-\x7e]*\/)?$/, 'expected an IAM path such as /people/')
        .max(512)
        .default('/'),
    })
    .strict(),
  /**
   * The user name is made from the subject: `{local}` (the part of the first email, or of
   * the userName, before `@`), `{email}`, `{userName}`, `{externalId}`. One GetUser per resolve.
   */
  z
    .object({
      by: z.literal('userName'),
      template: z
        .string()
        .min(1)
        .max(200)
        .refine((t) => [...t.matchAll(/\{(\w+)\}/g)].every((m) => (TEMPLATE_PLACEHOLDERS as readonly string[]).includes(m[1]!)), {
          error: `expected placeholders among ${TEMPLATE_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
        })
        .default('{local}'),
    })
    .strict(),
]);

export const awsConfigSchema = z
  .object({
    /** The IAM endpoint. Default the SDK's own for the region (`https://iam.amazonaws.com`). */
    endpoint: secureUrl.optional(),
    /** The region requests are signed for. Default `us-east-1` (IAM's, in the commercial partition). */
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'expected an AWS region such as us-east-1')
      .default('us-east-1'),
    /**
     * An access key of the IAM principal the daemon acts as (`${AWS_ACCESS_KEY_ID}`,
     * `${AWS_SECRET_ACCESS_KEY}`, and `${AWS_SESSION_TOKEN}` for temporary credentials).
     * Never logged, never in errors or evidence.
     */
    credentials: z
      .object({
        accessKeyId: z.string().regex(/^[A-Z0-9]{16,128}$/, 'expected an access key id such as AKIA…'),
        secretAccessKey: z.string().min(1),
        sessionToken: z.string().min(1).optional(),
      })
      .strict(),
    /** How the subject's IAM user is found. Default the `email` tag. */
    lookup: awsLookupSchema.default({ by: 'tag', key: 'email', from: 'email', pathPrefix: '/' }),
    /** Per-request timeout; a timed-out request is retried by the engine as transient. Default 30 s. */
    requestTimeoutMs: z.number().int().positive().max(300_000).default(30_000),
  })
  .strict();

export type AwsConfig = z.output<typeof awsConfigSchema>;
export type AwsConfigInput = z.input<typeof awsConfigSchema>;
