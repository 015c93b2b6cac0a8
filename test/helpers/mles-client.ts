// A small Mles test client over `ws` that records what it receives and lets tests
// await frames and closes as events instead of sleeping.

import { once } from 'node:events';
import WebSocket from 'ws';

export interface Received {
  readonly binary: boolean;
  readonly data: Buffer;
}

export class MlesTestClient {
  readonly ws: WebSocket;
  readonly received: Received[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: Array<() => void> = [];

  constructor(url: string, protocols: string | string[] = 'mles-websocket', options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, protocols, options);
    this.ws.on('message', (data, isBinary) => {
      this.received.push({ binary: isBinary, data: data as Buffer });
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.ws.on('error', () => {}); // surfaced through `closed` / `opened`
    this.closed = new Promise((resolve) =>
      this.ws.once('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const wake of this.#waiters.splice(0)) wake();
      }),
    );
  }

  static async join(url: string, header: Record<string, unknown>, options: WebSocket.ClientOptions = {}): Promise<MlesTestClient> {
    const client = new MlesTestClient(url, 'mles-websocket', options);
    await client.opened();
    client.ws.send(JSON.stringify(header));
    return client;
  }

  async opened(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) return;
    await once(this.ws, 'open');
  }

  send(data: string | Buffer, binary = typeof data !== 'string'): void {
    this.ws.send(data, { binary });
  }

  texts(): string[] {
    return this.received.map((r) => r.data.toString());
  }

  /** Waits until at least `count` frames have arrived. */
  async waitFor(count: number, timeoutMs = 5000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`closed after ${this.received.length}/${count} frames`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`only ${this.received.length}/${count} frames within ${timeoutMs} ms: ${this.texts().join(' | ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received;
  }

  /** Waits until a frame with this exact text has arrived. */
  async waitForText(text: string, timeoutMs = 5000): Promise<void> {
    let seen = 0;
    while (!this.texts().includes(text)) {
      seen = this.received.length + 1;
      await this.waitFor(seen, timeoutMs);
    }
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    return this.closed;
  }
}
