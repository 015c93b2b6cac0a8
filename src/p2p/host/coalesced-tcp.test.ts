import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, test } from 'node:test';
import type { MultiaddrConnection } from '@libp2p/interface';
import { joinWrites } from './coalesced-tcp.ts';

/** A list of buffers with a byteLength, as libp2p hands a connection. */
function chunks(...parts: string[]): Uint8Array[] & { byteLength: number } {
  const list = parts.map((p) => Buffer.from(p)) as unknown as Uint8Array[] & { byteLength: number };
  list.byteLength = list.reduce((n, b) => n + b.byteLength, 0);
  return list;
}

interface Sender {
  socket: Socket;
  sendData: (data: Uint8Array[] & { byteLength: number }) => { sentBytes: number; canSendMore: boolean };
}

let server: Server;
let client: Socket;
let accepted: Socket;

beforeEach(async () => {
  server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const acceptedOnce = once(server, 'connection');
  client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  [accepted] = (await acceptedOnce) as [Socket];
});

afterEach(async () => {
  client.destroy();
  accepted.destroy();
  server.close();
  await once(server, 'close');
});

/** A connection whose sendData writes buffer by buffer, as @libp2p/tcp's does. */
function connection(socket: Socket): Sender {
  return {
    socket,
    sendData(data) {
      let canSendMore = true;
      for (const buffer of data) canSendMore = socket.write(buffer);
      return { sentBytes: data.byteLength, canSendMore };
    },
  };
}

/** Counts the writes the socket hands to the system: one per buffer uncorked, one per writev corked. */
function countWrites(socket: Socket): { writes: number } {
  const count = { writes: 0 };
  const internals = socket as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  const write = internals._write.bind(socket);
  const writev = internals._writev.bind(socket);
  internals._write = (...a) => {
    count.writes++;
    write(...a);
  };
  internals._writev = (...a) => {
    count.writes++;
    writev(...a);
  };
  return count;
}

async function receive(socket: Socket, bytes: number): Promise<string> {
  let got = '';
  while (got.length < bytes) got += ((await once(socket, 'data')) as [Buffer])[0].toString();
  return got;
}

test('what one turn sends goes out as one write, in order', async () => {
  const sender = connection(client);
  const plain = countWrites(client);
  sender.sendData(chunks('ab', 'cd'));
  sender.sendData(chunks('ef'));
  assert.ok(plain.writes > 1, 'without joining, buffers are written one by one');
  assert.equal(await receive(accepted, 6), 'abcdef');

  joinWrites(sender as unknown as MultiaddrConnection);
  plain.writes = 0;
  const results = [sender.sendData(chunks('12', '34')), sender.sendData(chunks('5')), sender.sendData(chunks('6', '7', '8'))];
  assert.deepEqual(
    results.map((r) => r.sentBytes),
    [4, 1, 3],
  );
  assert.ok(results.every((r) => r.canSendMore));
  assert.equal(plain.writes, 0, 'nothing is written before the turn ends');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(plain.writes, 1, 'one writev for the turn');
  assert.equal(await receive(accepted, 8), '12345678');

  // The next turn is corked again.
  sender.sendData(chunks('9'));
  sender.sendData(chunks('0'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(plain.writes, 2);
  assert.equal(await receive(accepted, 2), '90');
});

test('a socket full past the limit reports it, and drains', async () => {
  const sender = connection(client);
  joinWrites(sender as unknown as MultiaddrConnection);
  const block = 'x'.repeat(256 * 1024);
  let last = { sentBytes: 0, canSendMore: true };
  let sent = 0;
  // Corked, nothing leaves before the turn ends: the fourth 256 KiB block reaches the 1 MiB limit.
  for (let i = 0; i < 5 && last.canSendMore; i++) {
    last = sender.sendData(chunks(block));
    sent += last.sentBytes;
  }
  assert.equal(last.canSendMore, false);
  assert.equal(sent, 4 * block.length);
  const drained = once(client, 'drain');
  let got = 0;
  accepted.on('data', (data: Buffer) => (got += data.length));
  await drained;
  await new Promise<void>((resolve) => {
    const check = (): void => (got >= sent ? resolve() : void accepted.once('data', check));
    check();
  });
  assert.equal(got, sent);
});

test('a connection without a socket is left as it is', () => {
  const sendData = () => ({ sentBytes: 0, canSendMore: true });
  const other = { sendData } as unknown as MultiaddrConnection;
  joinWrites(other);
  assert.equal((other as unknown as { sendData: unknown }).sendData, sendData);
});
