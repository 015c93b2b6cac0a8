// `parley serve --print-config`: the settings a node would run with, written in the
// config file's format (config-file.ts), so the output can be saved as one. Settings not
// given show their default as a comment. Secrets are never written: a setting whose name
// says it is one, a URL's password, and the environment's keys (only whether they are set).

import type { OptionSpec } from './config-file.ts';

export interface GivenSetting {
  readonly name: string;
  readonly value: string | boolean;
  /** Where it was given: 'the command line' or the config file's name. */
  readonly from: string;
}

export interface SettingsReport {
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Options that are not settings (--config, --help). */
  readonly skip: readonly string[];
  readonly given: readonly GivenSetting[];
  readonly defaults: Readonly<Partial<Record<string, string>>>;
  /** Secret environment variables and their values; only whether each is set is shown. */
  readonly secretEnvironment: Readonly<Record<string, string | undefined>>;
}

const HIDDEN = '********';
const SECRET_NAME = /key|secret|password|token|credential/i;

/** The value as it may be shown: hidden when the name says secret, a URL without its password. */
export function shownValue(name: string, value: string): string {
  if (SECRET_NAME.test(name)) return HIDDEN;
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(value)) return value;
  try {
    const url = new URL(value);
    if (url.password === '') return value;
    url.password = HIDDEN;
    return url.href;
  } catch {
    return value;
  }
}

export function renderSettings(report: SettingsReport): string {
  const out = ['# parley serve: the settings in effect. A flag overrides the config file; lines', '# that start with "# " are defaults, for settings not given.'];
  const sources = [...new Set(report.given.map((s) => s.from))];
  for (const from of sources) {
    out.push('', `# from ${from}`);
    for (const s of report.given.filter((g) => g.from === from)) {
      out.push(`${s.name} = ${typeof s.value === 'boolean' ? String(s.value) : quoted(shownValue(s.name, s.value))}`);
    }
  }
  const givenNames = new Set(report.given.map((s) => s.name));
  const unset = Object.keys(report.options).filter((name) => !givenNames.has(name) && !report.skip.includes(name));
  if (unset.length > 0) {
    out.push('', '# defaults');
    for (const name of unset) {
      const fallback = report.defaults[name];
      out.push(fallback === undefined ? `# ${name} (not set)` : `# ${name} = ${fallback}`);
    }
  }
  out.push('', '# environment');
  for (const [name, value] of Object.entries(report.secretEnvironment)) {
    out.push(`# ${name}: ${value === undefined ? 'not set' : `set (${value === '' ? 'empty' : 'not shown'})`}`);
  }
  return out.join('\n') + '\n';
}

/** Quotes a value the file would otherwise read differently (spaces at either end). */
function quoted(value: string): string {
  return value !== value.trim() || (value.startsWith('"') && value.endsWith('"')) ? `"${value}"` : value;
}
