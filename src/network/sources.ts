// Where the list of peers to dial comes from: `--peer` flags, a file re-read when it
// changes (`--peers-file`), and a URL fetched periodically (`--peers-url`). The union
// of all three is handed on whenever it changes. A source that cannot be read keeps
// its last good list, so a typo in the file or an unreachable URL drops no links.

import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile } from 'node:fs';
import type { Logger } from 'pino';

export interface PeerSourcesOptions {
  readonly flags: readonly string[];
  readonly file: string | undefined;
  readonly url: string | undefined;
  readonly intervalMs: number;
  readonly log: Logger;
  readonly onChange: (urls: string[]) => void;
}

/** The ws:// and wss:// URLs of a peer list, one a line; `#` starts a comment. */
export function parsePeerList(text: string): { urls: string[]; errors: string[] } {
  const urls: string[] = [];
  const errors: string[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    let ok = false;
    try {
      const url = new URL(line);
      ok = url.protocol === 'ws:' || url.protocol === 'wss:';
    } catch {}
    if (ok) urls.push(line);
    else errors.push(`line ${i + 1}: "${line}" is not a ws:// or wss:// URL`);
  }
  return { urls, errors };
}

export class PeerSources {
  readonly #options: PeerSourcesOptions;
  #fromFile: string[] = [];
  #fromUrl: string[] = [];
  #last = '';
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: PeerSourcesOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    const { file, url, intervalMs } = this.#options;
    if (file !== undefined) {
      await this.#readFile(file);
      // Polling, not fs.watch: editors replace files, which inotify watches lose.
      watchFile(file, { interval: 500 }, () => void this.#readFile(file));
    }
    if (url !== undefined) {
      await this.#fetch(url);
      const again = (): void => {
        this.#timer = setTimeout(() => void this.#fetch(url).finally(() => this.#stopped || again()), intervalMs);
        this.#timer.unref();
      };
      again();
    }
    this.#emit();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (this.#options.file !== undefined) unwatchFile(this.#options.file);
  }

  async #readFile(file: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      this.#options.log.warn({ file, err: (error as Error).message }, 'cannot read the peers file; keeping the last list');
      return;
    }
    this.#fromFile = this.#parse(text, file);
    this.#emit();
  }

  async #fetch(url: string): Promise<void> {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      this.#fromUrl = this.#parse(await response.text(), url);
      this.#emit();
    } catch (error) {
      this.#options.log.warn({ url, err: (error as Error).message }, 'cannot fetch the peers list; keeping the last list');
    }
  }

  #parse(text: string, source: string): string[] {
    const { urls, errors } = parsePeerList(text);
    for (const error of errors) this.#options.log.warn({ source, error }, 'peer list entry skipped');
    return urls;
  }

  #emit(): void {
    if (this.#stopped) return;
    const urls = [...new Set([...this.#options.flags, ...this.#fromFile, ...this.#fromUrl])].sort();
    const key = urls.join('\n');
    if (key === this.#last) return;
    this.#last = key;
    this.#options.onChange(urls);
  }
}
