/**
 * The per-provider request rate limit: the throttle itself keeps any 1-second window
 * under the limit, and every adapter calls it before each request it sends.
 */
import { describe, expect, it } from 'vitest';
import { providerModules } from '../providers/index.ts';
import { createRequestThrottle } from '../src/engine/request-throttle.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext, freshSubject } from './helpers/context.ts';

describe('createRequestThrottle', () => {
  it('never lets more than the limit through in any 1-second window', async () => {
    const throttle = createRequestThrottle(4);
    const times: number[] = [];
    await Promise.all(Array.from({ length: 10 }, () => throttle().then(() => times.push(performance.now()))));
    times.sort((a, b) => a - b);
    for (let i = 0; i + 4 < times.length; i += 1) {
      // The 5th request after any request starts a second or more later.
      expect(times[i + 4]! - times[i]!).toBeGreaterThanOrEqual(990);
    }
  });

  it('gives up waiting when the task is aborted', async () => {
    const throttle = createRequestThrottle(1);
    await throttle();
    const controller = new AbortController();
    const waiting = throttle(controller.signal);
    controller.abort();
    await expect(waiting).rejects.toThrow();
  });
});

describe('adapters call the throttle before every request', () => {
  for (const [kind, module] of providerModules) {
    it(kind, async () => {
      const sandbox = await module.startSandbox({ autoProvision: true });
      try {
        let throttled = 0;
        const provider = module.create(module.configSchema.parse(module.sandboxConfig(sandbox)), {
          name: kind,
          logger: silentLogger(),
          sandboxUrl: sandbox.url,
          throttle: async () => {
            throttled += 1;
          },
        });
        const subject = freshSubject(kind);
        const ctx = actionContext(subject);
        const account = await provider.resolve(subject, ctx);
        const [action, handler] = Object.entries(provider.actions)[0]!;
        if (account) {
          // A notify step names its event; an email one also names who to tell.
          const params = action === 'notify' ? { event: 'started', ...(kind === 'email' ? { to: ['it@example.com'] } : {}) } : {};
          await handler.execute(account, actionContext(subject, { params }));
        }
        // Requests the adapter sent to the provider's API (token endpoints excluded: another service).
        const apiRequests = sandbox.control.requests.filter((r) => !r.path.endsWith('/token')).length;
        expect(apiRequests).toBeGreaterThan(0);
        expect(throttled).toBe(apiRequests);
        await provider.close?.();
      } finally {
        await sandbox.close();
      }
    });
  }
});
