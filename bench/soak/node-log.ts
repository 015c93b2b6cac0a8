// What a node logged at warn level and above: read from its JSON log lines, and counted
// by what they say for the report.

import type { NodeProcess } from '../../test/helpers/node-process.ts';

export interface LogLine {
  /** What happened: the message, with the error or close code it names. */
  readonly what: string;
  readonly detail: string;
}

/** The lines a node logged (JSON lines on stdout) at warn level or above. */
export function warnings(proc: NodeProcess): LogLine[] {
  const out: LogLine[] = [];
  for (const line of proc.stdout) {
    if (!/"level":[4-6]0/.test(line)) continue;
    try {
      const parsed = JSON.parse(line) as { msg?: unknown; code?: unknown; detail?: unknown; err?: { message?: unknown } };
      const err = parsed.err?.message === undefined ? '' : `: ${String(parsed.err.message)}`;
      out.push({ what: `${String(parsed.msg)}${err}${parsed.code === undefined ? '' : ` (${String(parsed.code)})`}`, detail: parsed.detail === undefined ? '' : String(parsed.detail) });
    } catch {
      // not a log line
    }
  }
  return out;
}

/** Log lines counted by what they say, with the first detail of each. */
export function summarize(lines: readonly LogLine[]): string[] {
  const counts = new Map<string, { n: number; detail: string }>();
  for (const l of lines) {
    const c = counts.get(l.what) ?? { n: 0, detail: l.detail };
    c.n++;
    counts.set(l.what, c);
  }
  return [...counts].map(([what, c]) => `${c.n} x ${what}${c.detail === '' ? '' : `, e.g. ${c.detail}`}`);
}
