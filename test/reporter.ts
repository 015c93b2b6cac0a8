// The test reporter `npm test` uses: one line per test file as it finishes, the full
// failure (and the output the file printed, which holds the seeds of random tests) only
// for a file that failed, and one summary line per suite. The spec reporter printed
// every test's name, hundreds of lines in which a failure was easy to miss.
//
// Used as `node --test --test-reporter=./test/reporter.ts`. To see every test by name,
// run a file with the spec reporter: `node --test --test-reporter=spec test/x.test.ts`.

import { relative, resolve } from 'node:path';
import { inspect } from 'node:util';

interface TestEventData {
  readonly name?: string;
  readonly nesting?: number;
  readonly file?: string;
  readonly message?: string;
  readonly duration_ms?: number;
  readonly counts?: { tests: number; passed: number; failed: number; skipped: number; todo: number; cancelled: number };
  readonly details?: { duration_ms?: number; error?: unknown; type?: string };
  readonly skip?: boolean | string;
}

interface TestEvent {
  readonly type: string;
  readonly data: TestEventData;
}

interface FileState {
  output: string[];
  /** What the tests reported with `t.diagnostic` (figures measured), shown under the file's line. */
  notes: string[];
  failures: string[];
  /** Names of the tests and suites being run, by nesting, to name a failure by its path. */
  path: string[];
}

const color = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
const paint = (code: number, text: string): string => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export default async function* oneLinePerFile(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const files = new Map<string, FileState>();
  const stateOf = (file: string): FileState => {
    let state = files.get(file);
    if (state === undefined) files.set(file, (state = { output: [], notes: [], failures: [], path: [] }));
    return state;
  };
  const shown = new Set<string>();

  for await (const event of source) {
    const { data } = event;
    // Output events name the file relative to the working directory, the others absolutely.
    const file = data.file === undefined ? undefined : resolve(data.file);
    switch (event.type) {
      case 'test:start':
        if (file !== undefined && data.nesting !== undefined) {
          const state = stateOf(file);
          state.path.length = data.nesting;
          state.path.push(data.name ?? '');
        }
        break;
      case 'test:pass':
        // A skipped test says why (a missing browser, no network namespaces), under its file.
        if (file !== undefined && data.skip !== undefined && data.skip !== false) {
          stateOf(file).notes.push(`skipped: ${data.name ?? ''}${typeof data.skip === 'string' ? ` (${data.skip})` : ''}`);
        }
        break;
      case 'test:stdout':
      case 'test:stderr':
        if (file !== undefined && data.message !== undefined) stateOf(file).output.push(data.message);
        break;
      case 'test:fail': {
        if (file === undefined) break;
        const state = stateOf(file);
        const error = data.details?.error as { failureType?: string; cause?: unknown } | undefined;
        // A suite fails when one of its tests did; that test is reported on its own.
        if (error?.failureType === 'subtestsFailed') break;
        const path = [...state.path.slice(0, data.nesting ?? 0), data.name ?? ''].join(' > ');
        const cause = error?.cause ?? error;
        state.failures.push(`  ${paint(31, '✖')} ${path}\n${indent(inspect(cause, { depth: 4, colors: color }))}`);
        break;
      }
      case 'test:summary': {
        const counts = data.counts;
        if (counts === undefined) break;
        if (file !== undefined) {
          shown.add(file);
          yield fileLine(file, counts, data.duration_ms ?? 0);
          const state = files.get(file);
          if (state !== undefined && state.notes.length > 0) yield state.notes.map((note) => `    ${paint(90, note)}\n`).join('');
          if (counts.failed > 0 && state !== undefined) yield failureReport(state);
          files.delete(file);
        } else {
          yield suiteLine([...shown], counts, data.duration_ms ?? 0);
        }
        break;
      }
      case 'test:diagnostic':
        if (data.message === undefined) break;
        if (file !== undefined) stateOf(file).notes.push(data.message);
        // The runner's own diagnostics repeat the summary's counts; others (a file that
        // could not start) are worth showing.
        else if (!/^(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /.test(data.message)) yield `${paint(33, '!')} ${data.message}\n`;
        break;
    }
  }
}

function fileLine(file: string, counts: NonNullable<TestEventData['counts']>, durationMs: number): string {
  const failed = counts.failed + counts.cancelled;
  const mark = failed > 0 ? paint(31, '✖') : paint(32, '✔');
  const skipped = counts.skipped > 0 ? `, ${counts.skipped} skipped` : '';
  const failures = failed > 0 ? paint(31, `, ${failed} failed`) : '';
  return `${mark} ${relative(process.cwd(), file)}  ${counts.passed} passed${skipped}${failures}  ${paint(90, seconds(durationMs))}\n`;
}

function failureReport(state: FileState): string {
  const output = state.output.length > 0 ? `  output of the file:\n${indent(state.output.join('').trimEnd())}\n` : '';
  return `${state.failures.join('\n')}\n${output}`;
}

function suiteLine(files: string[], counts: NonNullable<TestEventData['counts']>, durationMs: number): string {
  const under = (folder: string): boolean => files.every((file) => relative(process.cwd(), file).startsWith(folder));
  const suite = under('src') ? 'unit tests' : under('test/long') ? 'long end-to-end tests' : 'end-to-end tests';
  const failed = counts.failed + counts.cancelled;
  const parts = [`${counts.passed} passed`];
  if (counts.skipped > 0) parts.push(`${counts.skipped} skipped`);
  if (counts.todo > 0) parts.push(`${counts.todo} todo`);
  if (failed > 0) parts.push(paint(31, `${failed} failed`));
  return `${failed > 0 ? paint(31, '✖') : paint(32, '✔')} ${suite}: ${parts.join(', ')} in ${files.length} files, ${seconds(durationMs)}\n`;
}

function indent(text: string): string {
  return text.replace(/^/gm, '      ');
}
