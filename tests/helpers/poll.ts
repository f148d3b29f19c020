/** What the daemon test helpers share: reading an HTTP answer, and bounded polling. */

export interface JsonAnswer {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** The answer with its text and, when the text is JSON, the parsed body (else null). */
export async function readAnswer(response: Response): Promise<JsonAnswer> {
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/**
 * Calls `check` every 20 ms until it returns a truthy value, and returns that; past
 * `timeoutMs`, throws with `timeoutMessage()` (bounded; never a fixed sleep).
 */
export async function pollUntil<T>(
  check: () => Promise<T | null | undefined | false>,
  timeoutMessage: () => string,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(timeoutMessage());
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
