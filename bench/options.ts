// Command-line values shared by the comparison (run.ts) and the soak run (soak/).

/** A flag's value as a non-negative integer, or the fallback when it was not given. */
export function intOption(v: string | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}
