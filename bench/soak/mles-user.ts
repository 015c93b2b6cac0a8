// The Mles clients on A: join a channel (getting its history), publish for a while,
// leave and join again, keeping the tags of every frame they were handed.

import { setTimeout as sleep } from 'node:timers/promises';
import { MlesTestClient } from '../../test/helpers/mles-client.ts';
import type { NetworkNode } from '../../test/helpers/peer-network.ts';
import type { Random } from '../../test/helpers/random.ts';
import { makePayload, tagOf } from './common.ts';
import { CHANNELS, MLES_RATE, TICK_MS } from './shape.ts';

interface MlesSession {
  readonly channel: string;
  /** Tags of the binary frames received, history and live, in order. */
  readonly tags: string[];
}

/** An Mles client that joins a channel under a fresh uid, publishes for a while, leaves, and joins again. */
export class MlesUser {
  readonly index: number;
  readonly node: NetworkNode;
  readonly sessions: MlesSession[] = [];
  sent = 0;
  received = 0;
  quiet = false;
  readonly #rng: Random;
  #client: MlesTestClient | undefined;
  #stopped = false;
  #done: Promise<void> | undefined;

  constructor(index: number, node: NetworkNode, rng: Random) {
    this.index = index;
    this.node = node;
    this.#rng = rng;
  }

  start(): void {
    this.#done = this.#run();
  }

  async #run(): Promise<void> {
    for (let session = 0; !this.#stopped; session++) {
      if (this.quiet) {
        await sleep(100);
        continue;
      }
      const channel = this.#rng.pick(CHANNELS);
      const uid = `mles${this.index}.${session}`;
      let client: MlesTestClient;
      try {
        client = new MlesTestClient(this.node.wsUrl);
        await client.opened();
      } catch {
        await sleep(200);
        continue;
      }
      const record: MlesSession = { channel, tags: [] };
      this.sessions.push(record);
      client.ws.on('message', (data, binary) => {
        client.received.length = 0;
        if (!binary) return; // join headers, in the history
        this.received++;
        record.tags.push(tagOf(data as Buffer));
      });
      client.ws.send(JSON.stringify({ uid, channel }));
      this.#client = client;
      const stay = 2000 + this.#rng.int(8000);
      const until = performance.now() + stay;
      for (let k = 0; client.ws.readyState === client.ws.OPEN && (this.quiet || performance.now() < until) && !this.#stopped; ) {
        if (!this.quiet && this.#rng.next() < (MLES_RATE * TICK_MS) / 1000) {
          client.send(makePayload(`${uid}-${k++}`, this.#rng));
          this.sent++;
        }
        await sleep(TICK_MS);
      }
      await client.close();
      this.#client = undefined;
      if (!this.#stopped) await sleep(100 + this.#rng.int(400));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#client?.close();
    await this.#done;
  }
}
