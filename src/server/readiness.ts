/**
 * What `/readyz` answers: ready once the daemon has started (and not while it drains), and
 * only while the store can commit a write. An open route, so probes are shared: callers
 * arriving while one runs wait for it, and a result is reused for `reuseMs`, so a flood of
 * `/readyz` requests costs one write a second at most.
 */
import type { Logger } from 'pino';

export interface ReadinessOptions {
  /** False before start-up finished and while draining. */
  started: () => boolean;
  /** A write that must commit (Store.probeCommit). */
  probeCommit: () => Promise<void>;
  logger: Logger;
  /** A probe slower than this counts as failed. Default 2 s: under the readiness probe's timeout in deploy/kubernetes (3 s). */
  timeoutMs?: number;
  /** How long a probe's result is reused. Default 1 s. */
  reuseMs?: number;
}

export function commitReadiness(options: ReadinessOptions): () => Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const reuseMs = options.reuseMs ?? 1_000;
  let last: { at: number; ready: boolean } | undefined;
  let running: Promise<boolean> | undefined;

  const probe = async (): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        options.probeCommit(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no commit within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return true;
    } catch (error) {
      // The message and code only: a driver's error object can carry connection details.
      const { message, code } = error as { message?: unknown; code?: unknown };
      options.logger.warn({ error: String(message), code: code ?? null }, 'not ready: the store cannot commit a write');
      return false;
    } finally {
      clearTimeout(timer);
    }
  };

  return async () => {
    if (!options.started()) return false;
    if (last && Date.now() - last.at < reuseMs) return last.ready;
    running ??= probe().then((ready) => {
      last = { at: Date.now(), ready };
      running = undefined;
      return ready;
    });
    return running;
  };
}
