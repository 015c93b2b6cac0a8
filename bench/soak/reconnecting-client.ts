// A native client kept connected to a node through its restarts: it connects again
// shortly after every close or failed attempt, hands every frame it receives to its
// owner, and tells its owner when a connection opens and when it ends.

import { setTimeout as sleep } from 'node:timers/promises';
import { NativeTestClient, type Frame } from '../../test/helpers/native-client.ts';

export interface ClientHandlers {
  /** Each frame received, in order. */
  onFrame(frame: Frame): void;
  /** A new connection is open (and `client` set): subscribe or send again. */
  onOpen(client: NativeTestClient): void;
  /** The connection has gone, or an attempt failed (and `client` is unset). */
  onClose?(): void;
}

export class ReconnectingClient {
  readonly url: string;
  readonly uid: string;
  /** Connections opened so far. */
  connections = 0;
  readonly #handlers: ClientHandlers;
  #client: NativeTestClient | undefined;
  #stopped = false;

  constructor(url: string, uid: string, handlers: ClientHandlers) {
    this.url = url;
    this.uid = uid;
    this.#handlers = handlers;
  }

  /** The open connection, if there is one. */
  get client(): NativeTestClient | undefined {
    return this.#client;
  }

  start(): void {
    void this.#connectLoop();
  }

  async #connectLoop(): Promise<void> {
    while (!this.#stopped) {
      try {
        const client = await NativeTestClient.connect(this.url, this.uid);
        this.connections++;
        client.ws.on('message', () => {
          client.wsMessages.length = 0;
          for (const frame of client.frames.splice(0)) this.#handlers.onFrame(frame);
        });
        for (const frame of client.frames.splice(0)) this.#handlers.onFrame(frame);
        this.#client = client;
        this.#handlers.onOpen(client);
        await client.closed;
      } catch {
        // the node is down: try again shortly
      }
      this.#client = undefined;
      this.#handlers.onClose?.();
      if (!this.#stopped) await sleep(200);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#client?.close();
  }
}
