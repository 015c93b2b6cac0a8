// The soak's command line: its usage text, and its flags read into durations, the seed
// and whether to fill A's disk.

import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { intOption } from '../options.ts';

export const SOAK_USAGE = `usage: npm run bench -- soak [options]
  --duration MS   load time (default 180000: 3 minutes)
  --quick         a short run: 30 s of load
  --seed N        replay the schedule and choices of an earlier run (printed at the start)
  --no-disk-full  leave out the full disk (and the tmpfs it needs): restarts and load only
`;

export interface SoakOptions {
  /** Load time. */
  readonly durationMs: number;
  readonly seed: number;
  /** Whether A's store goes on a tmpfs of its own that the run fills. */
  readonly diskFull: boolean;
}

/** The options, or undefined when the usage was asked for (and printed). */
export function parseSoakOptions(args: readonly string[]): SoakOptions | undefined {
  const { values } = parseArgs({
    args: [...args],
    options: {
      duration: { type: 'string' },
      quick: { type: 'boolean', default: false },
      seed: { type: 'string' },
      'no-disk-full': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(SOAK_USAGE);
    return undefined;
  }
  const durationMs = intOption(values.duration, values.quick ? 30_000 : 180_000, 'duration');
  if (durationMs < 10_000) throw new Error('--duration must be at least 10000');
  const seed = intOption(values.seed, randomInt(1, 2 ** 31), 'seed');
  return { durationMs, seed, diskFull: !values['no-disk-full'] };
}
