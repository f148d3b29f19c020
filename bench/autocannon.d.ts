// autocannon ships no types: its options go in loosely (see scenarios/intake.ts), and the
// result is typed as far as the bench reads it.
declare module 'autocannon' {
  interface Result {
    '2xx': number;
    non2xx: number;
    errors: number;
    timeouts: number;
    /** Seconds the run took. */
    duration: number;
    requests: { total: number };
    latency: { p50: number; p99: number };
  }
  const autocannon: (options: Record<string, unknown>) => Promise<Result>;
  export default autocannon;
}
