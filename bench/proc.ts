// Readers for /proc: a process's resident memory and CPU time, for the server under test,
// and the machine's CPU model for the reports.

import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** The CPU model, as /proc/cpuinfo names it. */
export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1] !== undefined) return m[1].trim();
  } catch {
    // fall through
  }
  return cpus()[0]?.model ?? 'unknown CPU';
}

/** VmRSS of a process in KiB, or NaN if it cannot be read. */
export function rssKiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m?.[1] === undefined ? Number.NaN : Number(m[1]);
  } catch {
    return Number.NaN;
  }
}

/** User + system CPU time of a process (all its threads) in clock ticks, or NaN. */
export function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the command name (which may hold spaces) start at field 3.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]); // utime (14), stime (15)
  } catch {
    return Number.NaN;
  }
}

/** Samples CPU use of a process and of this process over an interval. */
export class CpuMeter {
  readonly #pid: number;
  readonly #ticksPerSecond: number;
  #ticks = 0;
  #self = process.cpuUsage();
  #t = 0;

  constructor(pid: number, ticksPerSecond: number) {
    this.#pid = pid;
    this.#ticksPerSecond = ticksPerSecond;
  }

  start(now: number): void {
    this.#ticks = cpuTicks(this.#pid);
    this.#self = process.cpuUsage();
    this.#t = now;
  }

  /** Percent of one core used since start(), by the process and by this generator. */
  stop(now: number): { serverPct: number; generatorPct: number } {
    const seconds = (now - this.#t) / 1000;
    const ticks = cpuTicks(this.#pid) - this.#ticks;
    const self = process.cpuUsage(this.#self);
    return {
      serverPct: (100 * ticks) / this.#ticksPerSecond / seconds,
      generatorPct: (100 * (self.user + self.system)) / 1e6 / seconds,
    };
  }
}
