/**
 * URLs in a provider's config block: https, or http on a loopback host only (the sandboxes),
 * so that a token or a client secret never crosses a network in clear text.
 */
import { z } from 'zod';

/** An endpoint used as given (a token endpoint: its path is exactly what the server expects). */
export const secureEndpoint = z
  .url({ protocol: /^https?$/ })
  .refine((u) => u.startsWith('https://') || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(u), {
    error: 'expected an https URL (http only on a loopback host)',
  });

/** A base URL that request paths are appended to: trailing slashes are dropped. */
export const secureUrl = secureEndpoint.transform((url) => url.replace(/\/+$/, ''));
