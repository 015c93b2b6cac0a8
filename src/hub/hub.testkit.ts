// Test kit: small members for driving a Hub in unit tests.

import type { Delivery, Hub, Member } from './hub.ts';

/** Resolves with the next message the hub commits to `channel` (a watcher, not a user). */
export function nextDelivery(hub: Hub, channel: string): Promise<Delivery> {
  return new Promise((resolve) => {
    const watcher: Member = {
      channel,
      peerLink: true,
      deliver: (delivery) => {
        hub.leave(watcher);
        resolve(delivery);
      },
    };
    hub.subscribe(watcher);
  });
}

/** A member that records the payloads it is given, as text. */
export class Recorder implements Member {
  readonly received: string[] = [];
  readonly uid: string;
  readonly channel: string;
  constructor(uid: string, channel: string) {
    this.uid = uid;
    this.channel = channel;
  }
  deliver(delivery: Delivery): void {
    this.received.push(Buffer.from(delivery.message.payload).toString());
  }
}
