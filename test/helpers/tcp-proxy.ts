// A TCP proxy on 127.0.0.1 in front of a node, for tests that need the network to
// misbehave on cue: hold back what the node sends (acks that never arrive), then cut
// every connection without a goodbye, as a dropped link would.

import { createServer, connect } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { once } from 'node:events';

export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  /** Stops forwarding node -> client (the bytes are dropped) until resume(). */
  blackHoleReplies(): void;
  resume(): void;
  /** Destroys every proxied connection at once. */
  cutAll(): void;
  /** Cuts every connection and refuses new ones until heal(): a network partition. */
  partition(): void;
  /**
   * Cuts every connection and holds new ones until heal(): accepted, but nothing reaches
   * the node, as when packets are dropped; at heal() those still waiting go through.
   */
  hold(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let dropReplies = false;
  let partitioned = false;
  let holding = false;
  const held = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (partitioned) {
      client.resetAndDestroy();
      return;
    }
    if (holding) {
      client.pause(); // what it sends waits in the socket until heal()
      held.add(client);
      const forget = () => held.delete(client);
      client.on('close', forget);
      client.on('error', forget);
      return;
    }
    forward(client);
  });
  const forward = (client: Socket): void => {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (!dropReplies) client.write(chunk);
    });
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
    client.resume();
  };
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const cutAll = (): void => {
    for (const [client, upstream] of pairs) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    pairs.clear();
  };
  return {
    port,
    url: `ws://127.0.0.1:${port}/`,
    blackHoleReplies: () => {
      dropReplies = true;
    },
    resume: () => {
      dropReplies = false;
    },
    cutAll,
    partition: () => {
      partitioned = true;
      cutAll();
    },
    hold: () => {
      holding = true;
      cutAll();
    },
    heal: () => {
      partitioned = false;
      holding = false;
      for (const client of held) forward(client);
      held.clear();
    },
    close: async () => {
      for (const client of held) client.destroy();
      held.clear();
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      server.close();
      await once(server, 'close');
    },
  };
}
