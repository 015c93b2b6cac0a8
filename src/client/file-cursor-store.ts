// A CursorStore in a JSON file, for Node only (not part of the browser bundle: import it
// from 'src/client/file-cursor-store.ts'). Writes are batched: set() only marks the
// store dirty and a write follows `debounceMs` later, so a burst of messages costs one
// write. Each write goes to a temporary file that is synced and renamed over the real
// one, so a crash leaves either the old cursors or the new ones, never a torn file.
// What a crash can lose is the last `debounceMs` of progress: those messages are
// delivered again on the next run (at-least-once), never skipped.
//
// File format: {"version":1,"cursors":{"<channel>":<seq>,...}}

import { readFileSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import type { CursorStore } from './cursor-store.ts';

export interface FileCursorStoreOptions {
  /** Delay between the first unsaved set() and the write, ms. Default 200. */
  readonly debounceMs?: number;
}

const FORMAT_VERSION = 1;

function parseCursorFile(text: string, path: string): Map<string, number> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`cursor file ${path} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`cursor file ${path} is not a JSON object`);
  const { version, cursors } = value as Record<string, unknown>;
  if (version !== FORMAT_VERSION) throw new Error(`cursor file ${path} has unknown version ${JSON.stringify(version)}`);
  if (typeof cursors !== 'object' || cursors === null || Array.isArray(cursors)) throw new Error(`cursor file ${path} has no cursors object`);
  const result = new Map<string, number>();
  for (const [channel, seq] of Object.entries(cursors)) {
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) throw new Error(`cursor file ${path}: cursor of ${JSON.stringify(channel)} is not a whole number`);
    result.set(channel, seq);
  }
  return result;
}

export class FileCursorStore implements CursorStore {
  readonly path: string;
  readonly #debounceMs: number;
  readonly #cursors: Map<string, number>;
  #dirty = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The write in progress, if any; writes never overlap. */
  #writing: Promise<void> | undefined;
  #closed = false;

  /** Loads the file if it exists (a missing file is an empty store); throws on a malformed one. */
  constructor(path: string, options: FileCursorStoreOptions = {}) {
    this.path = path;
    this.#debounceMs = options.debounceMs ?? 200;
    if (!Number.isFinite(this.#debounceMs) || this.#debounceMs < 0) throw new RangeError('debounceMs must be a number >= 0');
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    this.#cursors = text === undefined ? new Map() : parseCursorFile(text, path);
  }

  get(channel: string): number | undefined {
    return this.#cursors.get(channel);
  }

  set(channel: string, seq: number): void {
    if (this.#closed) throw new Error('cursor store is closed');
    if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`cursor must be a whole number >= 0, got ${seq}`);
    if (this.#cursors.get(channel) === seq) return;
    this.#cursors.set(channel, seq);
    this.#dirty = true;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      // A failed background write keeps the store dirty; flush() reports the error.
      this.flush().catch(() => {});
    }, this.#debounceMs);
  }

  entries(): Array<[string, number]> {
    return [...this.#cursors];
  }

  /** Writes now if anything changed since the last write, and waits for it. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // One write at a time; a set() during a write is picked up by the loop.
    while (this.#writing !== undefined || this.#dirty) {
      if (this.#writing !== undefined) {
        await this.#writing.catch(() => {});
        continue;
      }
      this.#dirty = false;
      this.#writing = this.#write().finally(() => {
        this.#writing = undefined;
      });
      try {
        await this.#writing;
      } catch (error) {
        this.#dirty = true;
        throw error;
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
  }

  async #write(): Promise<void> {
    const text = JSON.stringify({ version: FORMAT_VERSION, cursors: Object.fromEntries(this.#cursors) }) + '\n';
    const temp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      const file = await open(temp, 'w', 0o600);
      try {
        await file.writeFile(text, 'utf8');
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, this.path);
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw error;
    }
  }
}
