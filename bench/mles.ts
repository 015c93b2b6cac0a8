// Mles v2 over WebSocket (subprotocol `mles-websocket`): the first frame is a text JSON
// header {uid, channel}; after it every frame is relayed to the other members. Joining is
// not acknowledged, so a WebSocket ping right behind the header serves as the barrier: its
// pong means the server has handled the header. Replayed history (text header frames, or
// anything not 64 bytes) is ignored.

import type { Adapter, BenchClient, ClientOptions } from './adapter.ts';
import { FrameBatcher, PAYLOAD_SIZE } from './payload.ts';
import { WsConn } from './ws-client.ts';
import { OP_BINARY, OP_TEXT } from '../src/websocket/frame.ts';

const EMPTY = new Uint8Array(0);

export const mles: Adapter = {
  name: 'mles',
  noEcho: true,
  async connect(o: ClientOptions): Promise<BenchClient> {
    const channel = o.listen ?? o.publish;
    if (channel === undefined) throw new Error('an Mles client must join a channel');
    if (o.publish !== undefined && o.publish !== channel) {
      throw new Error('an Mles client publishes to the channel it joined');
    }
    const problems: string[] = [];
    const onMessage = o.onMessage;
    const conn = await WsConn.open(
      { host: o.host, port: o.port, path: '/', protocol: 'mles-websocket', ...localOf(o) },
      {
        onFrame(opcode, _fin, buf, start, end) {
          if (opcode === OP_BINARY && end - start === PAYLOAD_SIZE) onMessage(buf, start);
        },
        onClose(code, reason) {
          problems.push(`closed ${code} ${reason}`);
        },
      },
    );
    conn.send(OP_TEXT, Buffer.from(JSON.stringify({ uid: o.uid, channel })));
    await conn.ping();
    return {
      conn,
      batcher: o.publish === undefined ? undefined : new FrameBatcher(OP_BINARY, EMPTY, EMPTY, o.sender),
      problems,
      close: () => conn.destroy(),
    };
  },
};

export function localOf(o: ClientOptions): { localAddress?: string } {
  return o.localAddress === undefined ? {} : { localAddress: o.localAddress };
}
