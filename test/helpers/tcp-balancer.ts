// A round-robin TCP load balancer on 127.0.0.1, as an operator puts in front of several
// nodes: each new connection goes to the next target that accepts it.

import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';

export interface TcpBalancer {
  readonly port: number;
  readonly url: string;
  /** Connections made to each target so far. */
  readonly counts: number[];
  /** Cuts every connection at once, as a balancer restart would. */
  cutAll(): void;
  close(): Promise<void>;
}

export async function startTcpBalancer(targetPorts: readonly number[]): Promise<TcpBalancer> {
  const open = new Set<Socket>();
  const counts = targetPorts.map(() => 0);
  let next = 0;
  const dial = (client: Socket, tries: number): void => {
    if (tries === targetPorts.length) {
      client.destroy();
      return;
    }
    const index = next++ % targetPorts.length;
    const upstream = connect(targetPorts[index]!, '127.0.0.1');
    let connected = false;
    upstream.once('error', () => {
      if (!connected) dial(client, tries + 1); // refused: the next one
      else client.destroy();
    });
    upstream.once('connect', () => {
      connected = true;
      counts[index]!++;
      open.add(upstream);
      upstream.once('close', () => {
        open.delete(upstream);
        client.destroy();
      });
      client.once('close', () => upstream.destroy());
      client.on('error', () => upstream.destroy());
      client.pipe(upstream).pipe(client);
      client.resume();
    });
  };
  const server = createServer({ pauseOnConnect: true }, (client) => {
    open.add(client);
    client.once('close', () => open.delete(client));
    dial(client, 0);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}/`,
    counts,
    cutAll() {
      for (const socket of open) socket.destroy();
    },
    async close() {
      for (const socket of open) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
