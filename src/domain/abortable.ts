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
