import { z } from 'zod';

/** An outbound notification channel: a Slack incoming webhook or any JSON endpoint. */
export const notifyConfigSchema = z
  .object({
    /** Where messages are POSTed. Treat a Slack webhook URL as a secret: put it in the environment. */
    url: z.url({ protocol: /^https?$/ }),
    /** `slack`: `{ text }` as Slack incoming webhooks want; `json`: the structured event. Default `json`. */
    format: z.enum(['slack', 'json']).default('json'),
    /** Extra request headers (e.g. an Authorization for a generic receiver). Never logged. */
    headers: z.record(z.string(), z.string()).default({}),
    /** Per-request timeout. Default 10 000 ms. */
    timeoutMs: z.number().int().positive().default(10_000),
  })
  .strict();
export type NotifyConfig = z.infer<typeof notifyConfigSchema>;
