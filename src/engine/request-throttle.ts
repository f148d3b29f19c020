/**
 * A per-provider request rate limit, shared by every task of that provider in this
 * process. Adapters await it before each HTTP request, so a mass termination stays under
 * the provider's published limit instead of bouncing off it. Sliding window (p-queue's
 * strict mode): never more than `perSecond` requests in any 1-second span, which also
 * keeps us under providers that count in fixed windows.
 */
import PQueue from 'p-queue';

export type RequestThrottle = (signal?: AbortSignal) => Promise<void>;

export function createRequestThrottle(perSecond: number): RequestThrottle {
  const queue = new PQueue({ intervalCap: Math.max(1, Math.floor(perSecond)), interval: 1000, strict: true });
  return async (signal) => {
    await queue.add(() => undefined, signal ? { signal } : {});
  };
}

/** No limit configured: requests go straight out. */
export const unthrottled: RequestThrottle = async () => undefined;
