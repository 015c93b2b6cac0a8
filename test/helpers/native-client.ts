// A raw native-protocol test client: sends frames as given and records every frame
// the node sends, so tests can check the protocol itself rather than the SDK.

import { once } from 'node:events';
import WebSocket from 'ws';
import { decodeMaps, encodeMap } from '../../src/native/frames.ts';

export type Frame = Record<string, unknown>;

export class NativeTestClient {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  /** Per WebSocket message received: its size in bytes and how many frames it held. */
  readonly wsMessages: Array<{ bytes: number; frames: number }> = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: Array<() => void> = [];

  constructor(url: string) {
    this.ws = new WebSocket(url, 'parley.v1');
    this.ws.on('message', (data) => {
      // One WebSocket message holds one node frame or several (a CBOR sequence).
      const frames = decodeMaps(data as Buffer) ?? [{ t: 'undecodable' }];
      this.frames.push(...frames);
      this.wsMessages.push({ bytes: (data as Buffer).length, frames: frames.length });
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.ws.on('error', () => {});
    this.closed = new Promise((resolve) =>
      this.ws.once('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const wake of this.#waiters.splice(0)) wake();
      }),
    );
  }

  /** Connects and says hello; resolves once welcomed. */
  static async connect(url: string, uid: string): Promise<NativeTestClient> {
    const client = new NativeTestClient(url);
    await once(client.ws, 'open');
    client.send({ t: 'hello', uid });
    await client.next((f) => f.t === 'welcome');
    return client;
  }

  send(frame: Frame): void {
    this.ws.send(encodeMap(frame));
  }

  /** Waits for a frame (received from now on or already) that matches. */
  async next(match: (frame: Frame) => boolean, timeoutMs = 10_000, from = 0): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.slice(from).find(match);
      if (found !== undefined) return found;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`closed while waiting; got ${JSON.stringify(this.frames.slice(-3))}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no matching frame within ${timeoutMs} ms; last: ${JSON.stringify(this.frames.slice(-3))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The `msg` frames of a channel received so far. */
  messages(channel: string): Frame[] {
    return this.frames.filter((f) => f.t === 'msg' && f.ch === channel);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    await this.closed;
  }
}
