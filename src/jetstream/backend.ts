// The JetStream backend of a node, opened in order: the connection, the cluster's node
// key, the stream. What is left for the node is to start the log on its hub.

import type { Logger } from 'pino';
import type { NodeIdentity } from '../identity/node-identity.ts';
import { clusterIdentity, identityBucket } from './cluster-identity.ts';
import { connectNats, type NatsSettings } from './connect.ts';
import { JetStreamLog } from './jetstream-log.ts';

export interface JetStreamBackend {
  readonly log: JetStreamLog;
  /** The node key every node on the stream shares. */
  readonly identity: NodeIdentity;
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
      },
    });
    log.info({ stream: settings.stream, servers: settings.servers }, await jetStreamLog.ensureStream(settings.replicas));
    void jetStreamLog.watchConnection((event, server) => log.warn({ event, server }, 'NATS connection'));
    return {
      log: jetStreamLog,
      identity,
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
