// Test kit, not part of the SDK (index.ts does not export it): a fake WebSocket
// class wired to a small in-memory node that speaks enough of parley.v1 (hello, sub with
// replay and live, unsub, pub with cid dedupe, query) for the client's unit tests. Tests
// can intercept any frame, drop connections, withhold acks and inject frames, so every
// reconnect path is deterministic without a real node.

import { decodeClientFrame, encodeMap } from '../native/frames.ts';
import type { NodeFrame, ReceivedClientFrame, WireMessage } from '../native/frames.ts';
import type { WebSocketConstructor, WebSocketLike } from './connection.ts';

type Listener = (event: never) => void;

export class FakeSocket implements WebSocketLike {
  binaryType: BinaryType = 'blob';
  readyState = 0;
  protocol = '';
  readonly url: string;
  readonly protocols: string | string[] | undefined;
  readonly node: FakeNode;
  uid: string | undefined;
  readonly subscribed = new Set<string>();
  /** Every frame the client sent on this socket, decoded. */
  readonly frames: ReceivedClientFrame[] = [];
  readonly #listeners = new Map<string, Listener[]>();

  constructor(node: FakeNode, url: string, protocols?: string | string[]) {
    this.node = node;
    this.url = url;
    this.protocols = protocols;
  }

  addEventListener(type: string, listener: Listener): void {
    const list = this.#listeners.get(type) ?? [];
    list.push(listener);
    this.#listeners.set(type, list);
  }

  #dispatch(type: string, event: object): void {
    for (const listener of this.#listeners.get(type) ?? []) (listener as (event: object) => void)(event);
  }

  /** The node accepts the upgrade. */
  accept(protocol = 'parley.v1'): void {
    this.protocol = protocol;
    this.readyState = 1;
    this.#dispatch('open', {});
  }

  /** The node (or the network) closes the connection. */
  drop(code = 1006, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.node.sockets.delete(this);
    this.#dispatch('close', { code, reason });
  }

  /** Sends a node frame to the client. */
  push(frame: NodeFrame | Record<string, unknown>): void {
    if (this.readyState !== 1) return;
    const bytes = encodeMap({ ...frame });
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    this.#dispatch('message', { data: copy.buffer });
  }

  pushText(text: string): void {
    this.#dispatch('message', { data: text });
  }

  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    const decoded = decodeClientFrame(data);
    if (!decoded.ok) throw new Error(`client sent a bad frame: ${decoded.error}`);
    this.frames.push(decoded.frame);
    this.node.received(this, decoded.frame);
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState >= 2) return;
    this.readyState = 2;
    queueMicrotask(() => this.drop(code, reason));
  }
}

export interface FakeNodeOptions {
  /** Accept new sockets by themselves (default true). */
  readonly autoAccept?: boolean;
  readonly max?: number;
}

/** What an interceptor decides: 'handle' lets the fake node answer, 'drop' swallows the frame. */
export type Interception = 'handle' | 'drop';

export class FakeNode {
  readonly sockets = new Set<FakeSocket>();
  /** Every socket ever made, oldest first. */
  readonly history: FakeSocket[] = [];
  readonly channels = new Map<string, WireMessage[]>();
  /** (uid, channel, cid) -> seq, for publishes retried with the same cid. */
  readonly cids = new Map<string, number>();
  autoAccept: boolean;
  max: number;
  /** Sees every client frame first. */
  intercept: ((socket: FakeSocket, frame: ReceivedClientFrame) => Interception) | undefined;
  readonly #waiters: Array<() => void> = [];
  readonly WebSocket: WebSocketConstructor;

  constructor(options: FakeNodeOptions = {}) {
    this.autoAccept = options.autoAccept ?? true;
    this.max = options.max ?? 1024 * 1024;
    const node = this;
    this.WebSocket = class extends FakeSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(node, url, protocols);
        node.sockets.add(this);
        node.history.push(this);
        if (node.autoAccept) queueMicrotask(() => this.accept());
        node.#wake();
      }
    };
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves when `condition` holds, checked after every frame and socket; bounded. */
  async until(condition: () => boolean, what = 'condition', timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`fake node: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(remaining, 50));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The newest socket. */
  get last(): FakeSocket {
    const socket = this.history.at(-1);
    if (socket === undefined) throw new Error('no socket yet');
    return socket;
  }

  /** Stores a message as if someone published it, and delivers it live. */
  store(channel: string, text: string, from = 'someone'): WireMessage {
    const list = this.channels.get(channel) ?? [];
    this.channels.set(channel, list);
    const seq = (list.at(-1)?.seq ?? 0) + 1;
    const message: WireMessage = {
      ch: channel,
      seq,
      id: new Uint8Array(32).fill(seq % 256),
      ts: 1_700_000_000_000 + seq,
      from,
      o: 'fake-node',
      bin: true,
      p: new TextEncoder().encode(text),
    };
    list.push(message);
    for (const socket of this.sockets) if (socket.subscribed.has(channel)) socket.push({ t: 'msg', ...message });
    return message;
  }

  received(socket: FakeSocket, frame: ReceivedClientFrame): void {
    const decision = this.intercept?.(socket, frame) ?? 'handle';
    if (decision === 'handle') this.#handle(socket, frame);
    this.#wake();
  }

  #handle(socket: FakeSocket, frame: ReceivedClientFrame): void {
    switch (frame.t) {
      case 'hello':
        socket.uid = frame.uid;
        socket.push({ t: 'welcome', v: 1, node: 'fake-node', max: this.max });
        return;
      case 'sub': {
        const list = this.channels.get(frame.ch) ?? [];
        const last = list.at(-1)?.seq ?? 0;
        if (frame.after !== undefined && frame.after > last) {
          socket.push({ t: 'err', code: 'UNKNOWN_CURSOR', msg: 'unknown cursor', ch: frame.ch });
          return;
        }
        if (frame.after !== undefined) for (const message of list) if (message.seq > frame.after) socket.push({ t: 'msg', ...message });
        socket.subscribed.add(frame.ch);
        socket.push({ t: 'live', ch: frame.ch, last });
        return;
      }
      case 'unsub':
        socket.subscribed.delete(frame.ch);
        socket.push({ t: 'unsubbed', ch: frame.ch });
        return;
      case 'pub': {
        const key = `${socket.uid}\n${frame.ch}\n${frame.cid}`;
        const known = this.cids.get(key);
        const list = this.channels.get(frame.ch) ?? [];
        if (known !== undefined) {
          const message = list.find((m) => m.seq === known)!;
          socket.push({ t: 'ack', ch: frame.ch, cid: frame.cid, seq: known, id: message.id, ts: message.ts, dup: true });
          return;
        }
        const message = this.store(frame.ch, new TextDecoder().decode(frame.p), socket.uid);
        this.cids.set(key, message.seq);
        socket.push({ t: 'ack', ch: frame.ch, cid: frame.cid, seq: message.seq, id: message.id, ts: message.ts, dup: false });
        return;
      }
      case 'query': {
        const list = this.channels.get(frame.ch) ?? [];
        let messages = list.filter((m) => (frame.after === undefined || m.seq > frame.after) && (frame.before === undefined || m.seq < frame.before));
        // As the node: with desc, or before without after, the page is the newest ones.
        const back = frame.desc || (frame.before !== undefined && frame.after === undefined);
        if (back) messages = messages.reverse();
        const page = messages.slice(0, frame.limit);
        const next = page.at(-1)?.seq;
        if (back && !frame.desc) page.reverse();
        socket.push({
          t: 'page',
          qid: frame.qid,
          ch: frame.ch,
          msgs: page,
          first: list[0]?.seq ?? (list.at(-1)?.seq ?? 0) + 1,
          last: page.length === messages.length,
          ...(page.length < messages.length ? { next } : {}),
        });
        return;
      }
    }
  }
}
