// Carries what encryption needs between nodes, as messages in channels like everything
// else: each server's devices (`matrix-devices/SERVER`: device keys, one-time and
// fallback keys, and claims of one-time keys, whoever made them) and to-device messages
// for a server's users (`matrix-to-device/SERVER`). A node follows its own two channels
// and the devices channel of every server it shares a room with, and copies what they
// bring into its key store, so queries and claims for remote users are answered here.
//
// Device keys and to-device messages are taken only from a node that speaks for the
// server of their user (origin-binding.ts): the devices' owner, the message's sender. A
// claim of a one-time key comes from whichever node handed the key out, so it is taken
// from every node, as long as the key's owner is on the channel's server: a node that
// marks keys claimed does no more than a client of it could by claiming them.
//
// A one-time key can be claimed on two nodes at once before the claims cross; the
// second session then fails and clients start another (they keep fallback keys for it).

import type { Member } from '../hub/hub.ts';
import type { Store, StoredMessage } from '../store/store.ts';
import { parseUserId } from './events.ts';
import type { KeyStore } from './key-store.ts';
import type { OriginBinding } from './origin-binding.ts';
import type { RoomHub } from './rooms.ts';

export const devicesChannel = (server: string): string => `matrix-devices/${server}`;
export const toDeviceChannel = (server: string): string => `matrix-to-device/${server}`;

export interface KeyRelayOptions {
  readonly hub: RoomHub;
  readonly store: Store;
  readonly keys: KeyStore;
  readonly serverName: string;
  readonly binding: OriginBinding;
  /** These users' devices changed, or they have to-device messages: wake their syncs. */
  readonly onChange: (userIds: readonly string[]) => void;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class KeyRelay {
  readonly #options: KeyRelayOptions;
  readonly #members = new Map<string, Member>();

  constructor(options: KeyRelayOptions) {
    this.#options = options;
  }

  start(): void {
    this.#follow(devicesChannel(this.#options.serverName));
    this.#follow(toDeviceChannel(this.#options.serverName));
  }

  close(): void {
    for (const member of this.#members.values()) this.#options.hub.leave(member);
  }

  /** Follows the devices of a server whose users share a room with this node's. */
  followServer(server: string): void {
    if (server !== this.#options.serverName) this.#follow(devicesChannel(server));
  }

  #follow(channel: string): void {
    if (this.#members.has(channel)) return;
    // What was applied before a restart is not applied again (a to-device message would come twice).
    let applied = this.#options.keys.cursor(channel);
    const take = (message: StoredMessage): void => {
      if (message.seq <= applied) return;
      applied = message.seq;
      this.#apply(channel, message);
      this.#options.keys.setCursor(channel, message.seq);
    };
    for (;;) {
      const page = this.#options.store.read(channel, { after: applied, limit: 1000 });
      for (const message of page) take(message);
      if (page.length < 1000) break;
    }
    const member: Member = { channel, deliver: ({ message }) => take(message) };
    this.#members.set(channel, member);
    this.#options.hub.subscribe(member);
  }

  #apply(channel: string, message: StoredMessage): void {
    let record: unknown;
    try {
      record = JSON.parse(Buffer.from(message.payload).toString('utf8'));
    } catch {
      return;
    }
    if (!isObject(record)) return;
    const { keys, binding } = this.#options;
    // The server the channel is for: `matrix-devices/SERVER` or `matrix-to-device/SERVER`.
    const channelServer = channel.slice(channel.indexOf('/') + 1);
    if (channel.startsWith('matrix-to-device/')) {
      const { user_id, device_id, sender, type, content } = record;
      if (typeof user_id !== 'string' || typeof device_id !== 'string' || typeof sender !== 'string' || typeof type !== 'string' || !isObject(content)) return;
      const senderServer = parseUserId(sender)?.server;
      if (senderServer === undefined) return;
      const about = { kind: 'to-device message', sender, user: user_id, device: device_id };
      if (parseUserId(user_id)?.server !== channelServer) return binding.refuse(message, about, `the recipient is not on ${channelServer}`);
      // One held for its sender's claim is delivered when the claim comes, unless the node restarts first.
      binding.admit(message, senderServer, about, () => {
        keys.addToDevice(user_id, device_id, sender, type, content);
        this.#options.onChange([user_id]);
      });
      return;
    }
    const { user_id, device_id } = record;
    if (typeof user_id !== 'string' || typeof device_id !== 'string') return;
    const claimed = isObject(record.claimed) ? record.claimed.key_id : undefined;
    const about = { kind: claimed === undefined ? 'device keys' : 'key claim', sender: user_id, device: device_id };
    if (parseUserId(user_id)?.server !== channelServer) return binding.refuse(message, about, `the devices' owner is not on ${channelServer}`);
    if (isObject(record.claimed)) {
      if (typeof claimed === 'string') keys.markClaimed(user_id, device_id, claimed);
      return;
    }
    // This node's own uploads are in its key store already.
    if (message.origin === this.#options.store.nodeId) return;
    binding.admit(message, channelServer, about, () => {
      if (record.removed === true) keys.removeDevice(user_id, device_id);
      if (isObject(record.device_keys)) keys.setDeviceKeys(user_id, device_id, JSON.stringify(record.device_keys));
      if (isObject(record.one_time_keys)) for (const [id, key] of Object.entries(record.one_time_keys)) keys.addOneTimeKey(user_id, device_id, id, JSON.stringify(key));
      if (isObject(record.fallback_keys)) for (const [id, key] of Object.entries(record.fallback_keys)) keys.setFallbackKey(user_id, device_id, id, JSON.stringify(key));
      this.#options.onChange([user_id]);
    });
  }

  /** Tells other nodes of a local device's upload (or removal). */
  published(userId: string, deviceId: string, upload: Json): Promise<void> {
    return this.#publish(devicesChannel(this.#options.serverName), userId, { user_id: userId, device_id: deviceId, ...upload });
  }

  /** Tells the key's home server (and every node that copied the key) that it was claimed. */
  claimed(userId: string, deviceId: string, keyId: string): Promise<void> {
    const server = parseUserId(userId)?.server ?? this.#options.serverName;
    return this.#publish(devicesChannel(server), userId, { user_id: userId, device_id: deviceId, claimed: { key_id: keyId } });
  }

  /** Sends a to-device message to a user of another server. */
  toDevice(userId: string, deviceId: string, sender: string, type: string, content: Json): Promise<void> {
    const server = parseUserId(userId)?.server;
    if (server === undefined) return Promise.resolve();
    return this.#publish(toDeviceChannel(server), sender, { user_id: userId, device_id: deviceId, sender, type, content });
  }

  #publish(channel: string, uid: string, record: Json): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#options.hub.publish({ channel, uid, binary: false, payload: Buffer.from(JSON.stringify(record)) }, undefined, (result) => (result instanceof Error ? reject(result) : resolve())),
    );
  }
}
