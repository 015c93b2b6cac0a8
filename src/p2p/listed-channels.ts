// Channels that native clients listed in the directory (with the right DIRECTORY_KEY
// gives), kept in a file of the data directory: a restarted node goes on announcing them,
// as it does the --public ones. The file is JSON, `[{"channel", "about"}, ...]`, written
// whole to a temporary file and renamed over the old one, so a crash leaves one or the
// other, never half of one.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { isName } from '../access/names.ts';
import { MAX_ABOUT, type PublicChannel } from './directory.ts';

export const LISTED_CHANNELS_FILE = 'public-channels.json';

export class ListedChannels {
  readonly #file: string | undefined;
  readonly #log: Logger;
  readonly #channels = new Map<string, string>();

  /** `file` undefined: kept in memory only (tests). */
  constructor(file: string | undefined, log: Logger) {
    this.#file = file;
    this.#log = log;
    if (file !== undefined) this.#load(file);
  }

  list(): PublicChannel[] {
    return [...this.#channels].map(([channel, about]) => ({ channel, about }));
  }

  /** Lists a channel (again, with a new description) and saves the list. */
  add(channel: string, about: string): void {
    this.#channels.set(channel, about);
    this.#save(channel, 'this one is announced until the node stops');
  }

  has(channel: string): boolean {
    return this.#channels.has(channel);
  }

  /** Takes a channel off the list and saves it; false when it was not listed. */
  remove(channel: string): boolean {
    if (!this.#channels.delete(channel)) return false;
    this.#save(channel, 'it is announced again after a restart');
    return true;
  }

  #save(channel: string, otherwise: string): void {
    if (this.#file === undefined) return;
    const temporary = `${this.#file}.tmp`;
    try {
      writeFileSync(temporary, `${JSON.stringify(this.list(), null, 1)}\n`);
      renameSync(temporary, this.#file);
    } catch (error) {
      this.#log.error({ err: error, file: this.#file, channel }, `could not save the listed public channels; ${otherwise}`);
    }
  }

  #load(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.#log.error({ err: error, file }, 'could not read the listed public channels; none are announced');
      return;
    }
    let entries: unknown;
    try {
      entries = JSON.parse(text);
    } catch {
      entries = undefined;
    }
    if (!Array.isArray(entries)) {
      this.#log.error({ file }, 'the listed public channels file is not a JSON list; none are announced (list them again, or fix or remove the file)');
      return;
    }
    for (const entry of entries as unknown[]) {
      const { channel, about } = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
      if (isName(channel) && typeof about === 'string' && about.length <= MAX_ABOUT) this.#channels.set(channel, about);
      else this.#log.warn({ file, entry }, 'a listed public channel is not valid; skipped');
    }
  }
}
