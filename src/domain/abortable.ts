/**
 * Waiting on work that an AbortSignal may cut short. The work itself is not cancelled
 * (it may be shared with other callers, or hold its own signal); only this wait ends.
 */

/**
 * Settles when `work()` does, or rejects with `abortError()` as soon as `signal` aborts
 * (at once, without starting the work, when it already has). The default reason is the
 * signal's own.
 */
export function abortable<T>(signal: AbortSignal, work: () => Promise<T>, abortError: () => unknown = () => signal.reason): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError());
    signal.addEventListener('abort', onAbort, { once: true });
    work().then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * A signal that aborts with a TimeoutError after `ms`, and a way to disarm it early. Not
 * `AbortSignal.timeout`: Node 20 holds that signal only weakly and `AbortSignal.any` holds
 * its sources weakly too, so `AbortSignal.any([signal, AbortSignal.timeout(ms)])` loses its
 * timeout at the first garbage collection (tests/attempt-deadline.test.ts,
 * tests/http-layer.test.ts). Here the timer holds the controller; it is unref'd so that it
 * never keeps the process alive.
 */
export function deadlineSignal(ms: number, what = 'no answer'): { signal: AbortSignal; cancel(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`${what} within ${ms} ms`, 'TimeoutError')), ms).unref();
  return { signal: controller.signal, cancel: () => clearTimeout(timer) };
}
