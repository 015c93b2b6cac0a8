// What the scenarios need from a messaging system: connect a client to a channel (as a
// receiving member or a publish-only client), get a batch builder that publishes 64-byte
// messages to a channel, and a callback for every 64-byte message a client receives.

import type { FrameBatcher } from './payload.ts';
import type { WsConn } from './ws-client.ts';

/** Called per received benchmark message; the message is `buf[at, at + 64)`. */
export type MessageHandler = (buf: Buffer, at: number) => void;

export interface ClientOptions {
  readonly host: string;
  readonly port: number;
  readonly localAddress?: string;
  /** Unique per connection within the run. */
  readonly uid: string;
  /** The channel (Mles channel, MQTT topic, NATS subject) to receive from, if any. */
  readonly listen: string | undefined;
  /** The channel this client publishes to, if any. */
  readonly publish: string | undefined;
  /** Index stamped into every message this client sends. */
  readonly sender: number;
  readonly onMessage: MessageHandler;
  /**
   * For acknowledged publishing (native protocol, NATS JetStream): called per ack with
   * the sequence number of the publish it answers. Protocols without acks ignore it.
   */
  readonly onAck?: (seq: number) => void;
}

export interface BenchClient {
  readonly conn: WsConn;
  /** Builds frames publishing to `ClientOptions.publish`. */
  readonly batcher: FrameBatcher | undefined;
  /** Protocol-level errors the server reported (e.g. NATS -ERR), and closes. */
  readonly problems: string[];
  close(): void;
}

export interface Adapter {
  readonly name: string;
  /**
   * Whether a member of a channel can both publish to it and receive from it without
   * getting its own messages back. If not, a 2-member channel is modelled as one
   * channel per direction.
   */
  readonly noEcho: boolean;
  /** Connects, joins or subscribes, and resolves once the server has taken it all in. */
  connect(options: ClientOptions): Promise<BenchClient>;
}
