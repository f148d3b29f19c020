// autocannon ships no types; the bench uses its programmatic API loosely (see scenarios/intake.ts).
declare module 'autocannon' {
  const autocannon: (options: Record<string, unknown>) => Promise<any>;
  export default autocannon;
}
