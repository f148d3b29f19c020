import { z } from 'zod';

/** An OpenID Shared Signals transmitter pushing CAEP events (RFC 8935 push delivery). */
export const caepConfigSchema = z
  .object({
    /** `iss` of every Security Event Token: this deployment's public URL. */
    issuer: z.url(),
    /** Where SETs are pushed. Each receiver gets its own token with its own `aud`. */
    receivers: z
      .array(
        z
          .object({
            url: z.url({ protocol: /^https?$/ }),
            audience: z.string().min(1),
            /** Bearer token the receiver asks for on its push endpoint, if any. Never logged. */
            token: z.string().min(1).optional(),
          })
          .strict(),
      )
      .min(1),
    /** The signing key: a PKCS#8 PEM private key (EC P-256 for ES256, RSA for RS256) and its key id. */
    signingKey: z.object({ pem: z.string().min(1), kid: z.string().min(1), alg: z.enum(['ES256', 'RS256']).default('ES256') }).strict(),
    /** Per-request timeout. Default 10 000 ms. */
    timeoutMs: z.number().int().positive().default(10_000),
  })
  .strict();
export type CaepConfig = z.infer<typeof caepConfigSchema>;
