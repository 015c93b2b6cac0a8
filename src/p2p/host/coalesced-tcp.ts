// libp2p's TCP transport with its writes joined: one system call for what a turn of the
// event loop sends on a connection, instead of one per buffer.
//
// Below gossip, every frame crosses yamux and noise, and each layer hands the socket a
// list of small buffers: noise's 2-byte length, the yamux header, the data, the tag.
// @libp2p/tcp writes each buffer of the list on its own, and yamux answers every data
// frame with a window update, so one gossip message forwarded was 5 to 9 writes, each a
// system call and a TCP segment (measured: 11 writes per gossip message on the middle
// node of a line, against one per batch on a WebSocket peer link). Here the socket is
// corked at the first write of a turn and uncorked once the turn's I/O callbacks have
// run (setImmediate), so Node sends everything written meanwhile with one writev.
//
// The transport is libp2p's own; only the connections it makes are given another
// `sendData`, through the upgrader every connection passes on its way to libp2p.

import type { Socket } from 'node:net';
import { tcp, type TCPComponents, type TCPOptions } from '@libp2p/tcp';
import type { MultiaddrConnection, Transport, Upgrader } from '@libp2p/interface';

/**
 * Bytes a corked socket may hold before a send reports it full. Above Node's 16 KiB
 * mark, or a run of gossip would wait for a drain in the middle of every turn; the
 * socket's own mark still decides when 'drain' comes (see `joinWrites`).
 */
const CORKED_LIMIT = 1024 * 1024;

/** What libp2p hands a connection to send (a Uint8ArrayList). */
interface Chunks extends Iterable<Uint8Array> {
  readonly byteLength: number;
}

interface SendResult {
  sentBytes: number;
  canSendMore: boolean;
}

interface SocketConnection {
  socket?: Socket;
  sendData?: (data: Chunks) => SendResult;
}

/**
 * Makes a TCP connection send what one turn writes as one writev. Connections of another
 * kind (no socket, or no sendData to replace) are left as they are.
 */
export function joinWrites(connection: MultiaddrConnection): void {
  const target = connection as unknown as SocketConnection;
  const socket = target.socket;
  if (socket === undefined || typeof target.sendData !== 'function') return;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  target.sendData = (data) => {
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      setImmediate(uncork);
    }
    let fits = true;
    for (const buffer of data) fits = socket.write(buffer);
    // A false from write() is what makes the socket emit 'drain' later; this returns
    // false only when write() did (the limit is above the socket's mark), so the drain
    // libp2p then waits for comes.
    return { sentBytes: data.byteLength, canSendMore: fits || socket.writableLength < CORKED_LIMIT };
  };
}

/** The upgrader, with each connection's writes joined before it is upgraded. */
function joiningUpgrader(upgrader: Upgrader): Upgrader {
  return new Proxy(upgrader, {
    get(target, property) {
      if (property === 'upgradeInbound' || property === 'upgradeOutbound') {
        const upgrade = target[property].bind(target) as (connection: MultiaddrConnection, options: unknown) => Promise<unknown>;
        return (connection: MultiaddrConnection, options: unknown) => {
          joinWrites(connection);
          return upgrade(connection, options);
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** `tcp()` from @libp2p/tcp, whose connections join their writes. */
export function coalescedTcp(init?: TCPOptions): (components: TCPComponents) => Transport {
  const factory = tcp(init);
  return (components) => {
    const transport = factory(components);
    const dial = transport.dial.bind(transport);
    const createListener = transport.createListener.bind(transport);
    transport.dial = (address, options) => dial(address, { ...options, upgrader: joiningUpgrader(options.upgrader) });
    transport.createListener = (options) => createListener({ ...options, upgrader: joiningUpgrader(options.upgrader) });
    return transport;
  };
}
