// Raw WebSocket connections for tests that must send what no well-behaved client
// library would: frames split anywhere, unmasked frames, or nothing read at all.

import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { encodeFrame } from '../../src/websocket/frame.ts';

export const UPGRADE_REQUEST =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
  'Sec-WebSocket-Protocol: mles-websocket\r\n\r\n';

/** A masked client frame (mask key zero unless given, which leaves the bytes readable). */
export function clientFrame(opcode: number, payload: string | Buffer, maskKey: Uint8Array = new Uint8Array(4), fin = true): Buffer {
  return encodeFrame(opcode, Buffer.from(payload), maskKey, fin);
}

/** Opens a TCP connection and sends the upgrade request, followed by `extra` bytes if any. */
export async function rawUpgrade(port: number, extra?: Buffer): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(extra === undefined ? UPGRADE_REQUEST : Buffer.concat([Buffer.from(UPGRADE_REQUEST), extra]));
  return socket;
}
