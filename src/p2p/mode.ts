// The peer-to-peer mode as the node starts it: the libp2p host, and the replication of
// channels over it (gossip and sync), sharing the node's store, hub and envelope intake.
// The node imports this module only with --p2p (libp2p costs memory a node without it
// should not pay).

import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ReplicaIntake } from '../envelope/intake.ts';
import type { Sealer } from '../envelope/seal.ts';
import type { Hub } from '../hub/hub.ts';
import type { NodeIdentity } from '../identity/node-identity.ts';
import type { Store } from '../store/store.ts';
import { DIRECTORY_TOPIC, type PublicChannel } from './directory.ts';
import { DirectoryGossip } from './directory-gossip.ts';
import { GossipDecoder } from './gossip-codec.ts';
import { LISTED_CHANNELS_FILE, ListedChannels } from './listed-channels.ts';
import { startP2PHost, type P2PHost } from './host/host.ts';
import { P2PReplication } from './replication.ts';
import type { P2PSettings } from './settings.ts';

export interface P2PModeOptions {
  readonly settings: P2PSettings;
  readonly identity: NodeIdentity;
  readonly hub: Hub;
  readonly store: Store;
  readonly intake: ReplicaIntake;
  readonly sealer: Sealer;
  readonly maxPayload: number;
  readonly log: Logger;
  /** Public channels besides --public that the directory announces (public Matrix rooms). */
  readonly moreChannels?: () => readonly PublicChannel[];
  /** Where the channels native clients list are kept (LISTED_CHANNELS_FILE in it); undefined: in memory only. */
  readonly dataDir?: string;
}

export interface P2PMode {
  readonly host: P2PHost;
  readonly replication: P2PReplication;
  readonly directory: DirectoryGossip;
  /** Lists a channel in the directory (a native client with the right asked): carried, and announced from now on. */
  listPublic(channel: string, about: string): void;
  /** Takes a channel a client listed off the directory (see UnlistResult). */
  unlistPublic(channel: string): UnlistResult;
  stop(): Promise<void>;
}

/** `by_flag`: listed by the node's --public flag, which only its operator can remove. */
export type UnlistResult = 'unlisted' | 'not_listed' | 'by_flag';

export async function startP2PMode(options: P2PModeOptions): Promise<P2PMode> {
  const { settings, log } = options;
  const decoder = new GossipDecoder({ maxPayload: options.maxPayload });
  const host = await startP2PHost({
    identity: options.identity,
    listen: settings.listen,
    announce: settings.announce,
    bootstrap: settings.bootstrap,
    mdns: settings.mdns,
    secretFile: settings.secretFile,
    relay: settings.relay,
    names: settings.names,
    log,
    messageId: (data) => decoder.messageId(data),
  });
  const replication = new P2PReplication({
    host,
    hub: options.hub,
    store: options.store,
    intake: options.intake,
    sealer: options.sealer,
    decoder,
    log,
    maxPayload: options.maxPayload,
    channels: settings.channels,
  });
  try {
    await replication.start();
  } catch (error) {
    await host.stop();
    throw error;
  }
  const listed = new ListedChannels(options.dataDir === undefined ? undefined : join(options.dataDir, LISTED_CHANNELS_FILE), log);
  for (const { channel } of [...settings.public, ...listed.list()]) replication.gossip.join(channel);
  // One entry a channel: what a client listed last replaces the --public description.
  const publicChannels = (): PublicChannel[] => {
    const byName = new Map<string, PublicChannel>();
    for (const c of [...settings.public, ...listed.list(), ...(options.moreChannels?.() ?? [])]) byName.set(c.channel, c);
    return [...byName.values()];
  };
  const directory = new DirectoryGossip({ transport: host, identity: options.identity, store: options.store, channels: [], moreChannels: publicChannels, log });
  // A node that joins the directory learns this node's public channels within a second.
  host.libp2p.services.pubsub.addEventListener('subscription-change', (event) => {
    if (event.detail.subscriptions.some((s) => s.subscribe && s.topic === DIRECTORY_TOPIC)) directory.announceSoon();
  });
  return {
    host,
    replication,
    directory,
    listPublic(channel, about) {
      listed.add(channel, about);
      replication.gossip.join(channel);
      directory.announceSoon();
    },
    unlistPublic(channel) {
      if (settings.public.some((c) => c.channel === channel)) return 'by_flag';
      if (!listed.remove(channel)) return 'not_listed';
      // Still public for another reason (a public Matrix room here): nothing to withdraw.
      if (!publicChannels().some((c) => c.channel === channel)) directory.withdraw(channel);
      return 'unlisted';
    },
    async stop() {
      directory.stop();
      replication.stop();
      await host.stop();
    },
  };
}
