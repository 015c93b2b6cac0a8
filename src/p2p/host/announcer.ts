// Puts this node's provider records (its node id, its names) into the DHT. A record
// can only be stored once the node knows DHT peers, so the first announcement waits for
// one, and a failed or early one is repeated when more peers arrive (at most every
// `refreshMs`). The DHT's own reprovider renews the records before they expire (it
// re-provides every CID this node provides, well within their 48 h validity).

import type { Logger } from 'pino';
import type { CID } from 'multiformats/cid';

export interface AnnouncerDependencies {
  /** What to provide, with a label for the log. */
  readonly records: readonly { readonly cid: CID; readonly label: string }[];
  provide(cid: CID, signal: AbortSignal): Promise<void>;
  readonly log: Logger;
  /** Least time between two announcements that succeeded, ms. */
  readonly refreshMs?: number;
  /** Time one announcement may take, ms. */
  readonly timeoutMs?: number;
}

export class Announcer {
  readonly #deps: AnnouncerDependencies;
  readonly #abort = new AbortController();
  #running = false;
  #again = false;
  #lastSuccess = -Infinity;

  constructor(deps: AnnouncerDependencies) {
    this.#deps = deps;
  }

  /** Records announced so far (for tests and the log). */
  announced = 0;

  /** A DHT peer appeared: announce if never done, or not done for a while. */
  peerAdded(): void {
    if (this.#deps.records.length === 0 || this.#abort.signal.aborted) return;
    if (performance.now() - this.#lastSuccess < (this.#deps.refreshMs ?? 600_000)) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    void this.#announce();
  }

  stop(): void {
    this.#abort.abort();
  }

  async #announce(): Promise<void> {
    this.#running = true;
    this.#again = false;
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#deps.timeoutMs ?? 60_000)]);
    try {
      for (const { cid, label } of this.#deps.records) await this.#deps.provide(cid, signal);
      this.#lastSuccess = performance.now();
      this.announced++;
      this.#deps.log.info({ records: this.#deps.records.map((r) => r.label) }, 'p2p records provided');
    } catch (error) {
      if (!this.#abort.signal.aborted) this.#deps.log.warn({ err: (error as Error).message }, 'p2p records not provided yet; trying again when peers arrive');
    } finally {
      this.#running = false;
    }
    if (this.#again) this.peerAdded();
  }
}
