// The SDK's side of the wire: the frames themselves, their encoder and the decoder of
// node frames are the protocol's one schema (src/native/frames.ts); this is only how a
// message the node sent is shown to the application, under the SDK's own field names.

import type { WireMessage } from '../native/frames.ts';

/** A message as the application receives it. */
export interface Message {
  readonly channel: string;
  /** Per-channel sequence number on the node: 1, 2, 3, ... */
  readonly seq: number;
  /** 32-byte content id (SHA-256), the same on every node. */
  readonly id: Uint8Array;
  /** Milliseconds since the epoch, from the accepting node's clock. */
  readonly ts: number;
  /** The publisher's uid. */
  readonly from: string;
  /** Id of the node that first accepted the message. */
  readonly origin: string;
  /** Whether Mles clients get it as a binary frame (false: a text frame). */
  readonly binary: boolean;
  readonly payload: Uint8Array;
}

/** The application's view of a message of a `msg` frame or a `page`. */
export function toMessage(m: WireMessage): Message {
  return { channel: m.ch, seq: m.seq, id: m.id, ts: m.ts, from: m.from, origin: m.o, binary: m.bin, payload: m.p };
}
