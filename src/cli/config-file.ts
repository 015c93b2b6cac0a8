// The settings file of `parley serve --config FILE`: every flag, one `name = value` a
// line, read against the same option table the flags are parsed with, so a flag added to
// the table works in the file too. Pure: text in, settings or a located error out.
//
//   # a comment: a line whose first character (after spaces) is #
//   listen = 0.0.0.0:8080
//   peer = ws://a.example:8080/
//   peer = ws://b.example:8080/     (a repeatable setting repeats its line)
//   memory = true                   (on/off settings are true or false)
//   data = "/srv/parley data "      (double quotes keep spaces at either end)
//
// A # after a value is part of the value. Flags given as well override the file's
// setting of the same name, for repeatable settings too (all its lines).

/** What the file needs to know of an option (node:util parseArgs' option config has this shape). */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly short?: string;
}

export interface FileSetting {
  /** The option's long name, as the flag without `--`. */
  readonly name: string;
  readonly value: string | boolean;
  /** 1-based line in the file. */
  readonly line: number;
}

export class ConfigFileError extends Error {}

/** The candidate closest to `name` by edit distance, if it is close enough to be a likely typo. */
export function nearestName(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * Reads the settings in `text` (the contents of `file`). `options` is the flag table;
 * `notInFile` names options that make no sense in a file (--config itself, --help).
 * Throws ConfigFileError with `file:line: what is wrong, and what to write instead`.
 */
export function parseConfigText(
  text: string,
  file: string,
  options: Readonly<Record<string, OptionSpec>>,
  notInFile: readonly string[] = [],
): FileSetting[] {
  const names = Object.keys(options).filter((name) => !notInFile.includes(name));
  const settings: FileSetting[] = [];
  const seen = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const fail = (message: string): never => {
      throw new ConfigFileError(`${file}:${line}: ${message}`);
    };
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const equals = trimmed.indexOf('=');
    if (equals < 0) fail(`expected "name = value", got "${trimmed}"`);
    const key = trimmed.slice(0, equals).trim();
    const name = key.replace(/^-{1,2}/, '');
    if (name !== key) fail(`write the name without dashes: "${name} = ..."`);
    const spec = options[name];
    if (spec === undefined || notInFile.includes(name)) {
      const short = Object.entries(options).find(([, s]) => s.short === name)?.[0];
      if (short !== undefined && !notInFile.includes(short)) fail(`"${name}" is the short form of --${short}: write "${short} = ..."`);
      if (spec !== undefined) fail(`--${name} cannot be set in a config file`);
      const nearest = nearestName(name, names);
      fail(`unknown setting "${name}"${nearest === undefined ? '' : `; did you mean "${nearest}"?`} (the settings are the long flag names of 'parley serve --help')`);
    }
    let value = trimmed.slice(equals + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    const earlier = seen.get(name);
    if (earlier !== undefined && spec!.multiple !== true) {
      fail(`${name} is set again (first on line ${earlier}); only repeatable settings may be given more than once`);
    }
    seen.set(name, earlier ?? line);
    if (spec!.type === 'boolean') {
      if (value !== 'true' && value !== 'false') fail(`${name} is on or off: write "${name} = true" or "${name} = false", not "${value}"`);
      settings.push({ name, value: value === 'true', line });
      return;
    }
    if (value === '') fail(`${name} needs a value: "${name} = VALUE"`);
    settings.push({ name, value, line });
  });
  return settings;
}

/** The settings as command-line arguments, for the same parser as the flags. */
export function settingsToArgs(settings: readonly FileSetting[]): string[] {
  return settings.flatMap(({ name, value }) => {
    if (value === false) return [];
    // --name=value: a value that starts with a dash is not taken for a flag.
    return value === true ? [`--${name}`] : [`--${name}=${value}`];
  });
}
