// The HTTP reader on A: pages of /v1/channels/X/messages forward, back and through a
// whole channel, each page checked for gaps on its own.

import { setTimeout as sleep } from 'node:timers/promises';
import type { NetworkNode } from '../../test/helpers/peer-network.ts';
import type { Random } from '../../test/helpers/random.ts';
import { CHANNELS, HTTP_PAUSE_MS } from './shape.ts';

/** A page of /v1/channels/X/messages, as far as the reader looks at it. */
interface Page {
  readonly messages: Array<{ seq: number }>;
  readonly first: number;
  readonly last: boolean;
  readonly next?: number;
}

/** The index of the first seq that does not follow the one before it, or -1. */
function firstGap(seqs: readonly number[]): number {
  for (let i = 1; i < seqs.length; i++) if (seqs[i] !== seqs[i - 1]! + 1) return i;
  return -1;
}

/** Reads pages of messages over HTTP, forward and back, and checks each page on its own. */
export class HttpReader {
  readonly node: NetworkNode;
  ok = 0;
  unavailable = 0;
  readonly problems: string[] = [];
  readonly #rng: Random;
  readonly #last = new Map<string, number>();
  #stopped = false;
  #done: Promise<void> | undefined;

  constructor(node: NetworkNode, rng: Random) {
    this.node = node;
    this.#rng = rng;
  }

  start(): void {
    this.#done = this.#run();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const channel = this.#rng.pick(CHANNELS);
      const last = this.#last.get(channel) ?? 0;
      const r = this.#rng.next();
      if (r < 0.45) await this.#page(channel, { after: this.#rng.int(last + 1), limit: 1 + this.#rng.int(200) });
      else if (r < 0.9) await this.#page(channel, { before: 1 + this.#rng.int(last + 1), limit: 1 + this.#rng.int(200) });
      else await this.#walk(channel);
      await sleep(HTTP_PAUSE_MS);
    }
  }

  async #get(channel: string, query: Record<string, number>): Promise<Page | undefined> {
    const params = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
    const url = `${this.node.httpUrl}v1/channels/${channel}/messages?${params}`;
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(20_000) });
    } catch {
      this.unavailable++;
      return undefined;
    }
    const body = await response.text().catch(() => '');
    if (response.status !== 200) {
      this.#note(`GET ${channel}?${params}: ${response.status} ${body.slice(0, 200)}`);
      return undefined;
    }
    this.ok++;
    return JSON.parse(body) as Page;
  }

  #note(what: string): void {
    if (this.problems.length < 20) this.problems.push(what);
  }

  /** Notes the newest seq seen in a channel, where the next random page is drawn up to. */
  #saw(channel: string, seq: number): void {
    this.#last.set(channel, Math.max(seq, this.#last.get(channel) ?? 0));
  }

  /** One page; its seqs must run without a gap from where it was asked to start. */
  async #page(channel: string, query: { after?: number; before?: number; limit: number }): Promise<void> {
    const page = await this.#get(channel, query);
    if (page === undefined) return;
    const seqs = page.messages.map((m) => m.seq);
    const top = seqs.at(-1);
    if (top !== undefined) this.#saw(channel, top);
    const gap = firstGap(seqs);
    if (gap > 0) return this.#note(`GET ${channel} ${JSON.stringify(query)}: seq ${seqs[gap]} after ${seqs[gap - 1]}`);
    if (query.after !== undefined && seqs.length > 0 && seqs[0] !== Math.max(query.after + 1, page.first)) {
      this.#note(`GET ${channel} after=${query.after}: page starts at ${seqs[0]}, first stored ${page.first}`);
    }
    if (query.before !== undefined && top !== undefined && query.before <= (this.#last.get(channel) ?? 0) && top !== query.before - 1) {
      this.#note(`GET ${channel} before=${query.before}: page ends at ${top}`);
    }
  }

  /** Pages through a whole channel, 500 at a time. */
  async #walk(channel: string): Promise<void> {
    let after = 0;
    for (let pages = 0; pages < 1000 && !this.#stopped; pages++) {
      const page = await this.#get(channel, { after, limit: 500 });
      if (page === undefined) return;
      const seqs = page.messages.map((m) => m.seq);
      if (seqs.length > 0 && seqs[0] !== after + 1) return this.#note(`walk of ${channel}: ${seqs[0]} follows ${after}`);
      const gap = firstGap(seqs);
      if (gap > 0) return this.#note(`walk of ${channel}: seq ${seqs[gap]} after ${seqs[gap - 1]}`);
      if (page.last || seqs.length === 0) {
        if (seqs.length > 0) this.#saw(channel, seqs.at(-1)!);
        return;
      }
      after = seqs.at(-1)!;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}
