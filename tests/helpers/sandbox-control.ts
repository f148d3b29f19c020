/**
 * A call to a sandbox's control API (`/__sandbox`): GET without a body, POST with one;
 * a non-2xx answer throws, a 204 returns undefined.
 */
export async function sandboxControl<T>(sandboxUrl: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${sandboxUrl}/__sandbox${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`sandbox ${path}: ${res.status}`);
  return (res.status === 204 ? undefined : await res.json()) as T;
}
