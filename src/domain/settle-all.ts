/**
 * Like Promise.all, but waits for every promise before failing: a caller that reports an
 * error leaves no request of its own still in flight. Fails with the first rejection in
 * argument order.
 */
export async function settleAll<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises as ReadonlyArray<Promise<unknown>>);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
