// The JetStream backend of a node, opened in order: the connection, the cluster's node
// key, the stream. What is left for the node is to start the log on its hub.

import { hostname } from 'node:os';
import { Kvm } from '@nats-io/kv';
import type { Logger } from 'pino';
import type { Hub } from '../hub/hub.ts';
import type { MemoryStore } from '../store/memory-store.ts';
import type { NodeIdentity } from '../identity/node-identity.ts';
import { clusterIdentity, identityBucket } from './cluster-identity.ts';
import { connectNats } from './connect.ts';
import type { NatsSettings } from './settings.ts';
import { ensureStream } from './ensure-stream.ts';
import { JetStreamLog, type JoinHeadersSink } from './jetstream-log.ts';
import { claimP2P, type P2PClaim } from './p2p-claim.ts';
import { checkpointBucket, loadCheckpoints, StreamTrimmer, watchCheckpoints } from './trim.ts';

export interface JetStreamBackend {
  readonly log: JetStreamLog;
  /** The node key every node on the stream shares. */
  readonly identity: NodeIdentity;
  /**
   * Seeds the view from the stream's checkpoints, reads the stream into it through the hub
   * until caught up, and from then on trims the stream every `trimIntervalMs`. The Mles
   * join headers read from the stream go to `joinHeaders`.
   */
  start(hub: Hub, view: MemoryStore, trimIntervalMs: number, joinHeaders?: JoinHeadersSink): Promise<void>;
  /** Stops trimming and reading, and closes the connection. */
  close(): Promise<void>;
  /** The largest message the NATS server takes (its max_payload). */
  readonly maxPayload: number;
  /**
   * Takes the cluster's P2P claim for this node (`node`: its own key id), or throws a
   * P2PClaimError naming the node that runs --p2p already (p2p-claim.ts).
   */
  claimP2P(node: string): Promise<void>;
  /** What /healthz says about NATS. */
  health(): { connected: boolean; server: string | undefined; stream: string; applied: number };
}

export async function openJetStreamBackend(settings: NatsSettings, local: NodeIdentity, log: Logger, onPublished: (seconds: number) => void): Promise<JetStreamBackend> {
  const { connection, manager } = await connectNats(settings);
  try {
    const { identity, stored } = await clusterIdentity(connection, settings.stream, settings.replicas, local);
    log.info({ nodeId: identity.nodeId, bucket: identityBucket(settings.stream), own: stored }, stored ? 'this node key is now the cluster key' : 'using the cluster key');
    const jetStreamLog = new JetStreamLog({
      connection,
      manager,
      stream: settings.stream,
      publishTimeoutMs: settings.publishTimeoutMs,
      events: {
        onPublished,
        onPublishFailed: (error) => log.warn({ err: error.message }, 'publish not stored by JetStream'),
        onBadRecord: (seq, reason) => log.warn({ seq, reason }, 'skipped a stream record that is not a parley message'),
        onReaderRestart: (reason) => log.warn({ reason }, 'reading the stream again from the last applied message'),
        onResumedFromCheckpoint: (channel, had, now) =>
          log.warn({ channel, had, now }, 'messages were trimmed from the stream before this node read them; the channel goes on from its checkpoint'),
      },
    });
    log.info({ stream: settings.stream, servers: settings.servers }, await ensureStream(manager, settings.stream, settings.replicas));
    void jetStreamLog.watchConnection((event, server) => log.warn({ event, server }, 'NATS connection'));
    const checkpoints = await new Kvm(connection).create(checkpointBucket(settings.stream), { replicas: settings.replicas, history: 1 });
    let trimTimer: ReturnType<typeof setInterval> | undefined;
    let p2pClaim: P2PClaim | undefined;
    return {
      log: jetStreamLog,
      identity,
      maxPayload: connection.info?.max_payload ?? 1024 * 1024,
      async start(hub, view, trimIntervalMs, joinHeaders) {
        const seeds = await loadCheckpoints(checkpoints);
        for (const [channel, checkpoint] of seeds) {
          view.seed(channel, checkpoint);
          jetStreamLog.skipBefore(channel, checkpoint.position);
          jetStreamLog.checkpointSeen(channel, checkpoint);
        }
        if (seeds.size > 0) log.info({ channels: seeds.size }, 'seeded channels from the stream checkpoints');
        // Checkpoints written from now on: the reader goes on from one it reaches behind.
        void watchCheckpoints(checkpoints, (channel, checkpoint) => jetStreamLog.checkpointSeen(channel, checkpoint)).catch((error: unknown) =>
          log.warn({ err: error }, 'watching the stream checkpoints stopped'),
        );
        await jetStreamLog.start(hub, { view, ...(joinHeaders === undefined ? {} : { joinHeaders }) });
        const trimmer = new StreamTrimmer({
          kv: checkpoints,
          manager,
          stream: settings.stream,
          store: view,
          positions: jetStreamLog.positions,
          events: {
            onTrimmed: (channel, before) => log.debug({ channel, before }, 'trimmed the stream'),
            onError: (error) => log.warn({ err: error }, 'trimming the stream failed; the next pass tries again'),
          },
        });
        trimTimer = setInterval(() => void trimmer.run(), trimIntervalMs);
        trimTimer.unref();
      },
      async claimP2P(node) {
        const bucket = await new Kvm(connection).open(identityBucket(settings.stream));
        p2pClaim = await claimP2P(bucket, { node, host: hostname() }, (reason) => log.warn({ reason }, 'P2P claim'));
      },
      async close() {
        if (trimTimer !== undefined) clearInterval(trimTimer);
        await p2pClaim?.release();
        await jetStreamLog.close();
      },
      health: () => {
        const s = jetStreamLog.status();
        return { connected: s.connected, server: s.server, stream: settings.stream, applied: s.applied };
      },
    };
  } catch (error) {
    await connection.close().catch(() => undefined);
    throw error;
  }
}
