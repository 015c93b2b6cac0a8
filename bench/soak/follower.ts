// The native subscribers (on A to every channel, on B to the followed ones): each
// resumes from its cursors after a reconnect and notes any repeat or gap it is handed.

import type { Frame } from '../../test/helpers/native-client.ts';
import type { NetworkNode } from '../../test/helpers/peer-network.ts';
import { receivedOf, type Received } from './common.ts';
import { ReconnectingClient } from './reconnecting-client.ts';
import { RETRY_MS } from './shape.ts';

/** A native subscriber to some channels from their start, resuming from its cursors after every reconnect. */
export class Follower {
  readonly name: string;
  readonly node: NetworkNode;
  readonly channels: readonly string[];
  readonly seen = new Map<string, Received[]>();
  readonly problems: string[] = [];
  refusedReplays = 0;
  readonly #link: ReconnectingClient;

  constructor(name: string, node: NetworkNode, channels: readonly string[]) {
    this.name = name;
    this.node = node;
    this.channels = channels;
    for (const ch of channels) this.seen.set(ch, []);
    this.#link = new ReconnectingClient(node.wsUrl, name, {
      onFrame: (frame) => this.#onFrame(frame),
      onOpen: (client) => {
        for (const ch of this.channels) client.send({ t: 'sub', ch, after: this.cursor(ch) });
      },
    });
  }

  /** Connections opened so far. */
  get connections(): number {
    return this.#link.connections;
  }

  cursor(channel: string): number {
    return this.seen.get(channel)?.at(-1)?.seq ?? 0;
  }

  start(): void {
    this.#link.start();
  }

  #onFrame(frame: Frame): void {
    const ch = String(frame.ch);
    if (frame.t === 'msg') {
      const list = this.seen.get(ch);
      if (list === undefined) return;
      const seq = Number(frame.seq);
      const last = list.at(-1)?.seq ?? 0;
      if (seq <= last) {
        this.problems.push(`${this.name} got ${ch} seq ${seq} again (after ${last})`);
        return;
      }
      if (seq !== last + 1) this.problems.push(`${this.name} got ${ch} seq ${seq} after ${last}: a gap`);
      list.push(receivedOf(frame));
    } else if (frame.t === 'err') {
      if (frame.code === 'STORE_FAILED') {
        // The replay could not be read: subscribe again.
        this.refusedReplays++;
        setTimeout(() => this.#link.client?.send({ t: 'sub', ch, after: this.cursor(ch) }), RETRY_MS);
      } else {
        this.problems.push(`${this.name}: err ${String(frame.code)} on ${ch}: ${String(frame.msg)}${frame.first === undefined ? '' : ` (first ${String(frame.first)}, last ${String(frame.last)})`}`);
      }
    }
  }

  async stop(): Promise<void> {
    await this.#link.stop();
  }
}
