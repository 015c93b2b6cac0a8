// Connecting to NATS with the operator's settings, and failing at start in words: which
// URL, and what to check. Once connected, the client reconnects by itself for ever.

import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { NATS_DEFAULTS, type NatsSettings } from './settings.ts';

export class NatsStartError extends Error {}

export interface NatsSession {
  readonly connection: NatsConnection;
  readonly manager: JetStreamManager;
}

/** Connects and checks that JetStream answers; a NatsStartError says what to check. */
export async function connectNats(settings: NatsSettings): Promise<NatsSession> {
  const where = settings.servers.join(', ');
  const options: NodeConnectionOptions = {
    servers: [...settings.servers],
    name: 'parley',
    timeout: NATS_DEFAULTS.connectTimeoutMs,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  };
  if (settings.credsFile !== undefined) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(settings.credsFile);
    } catch (error) {
      throw new NatsStartError(`--nats-creds: cannot read ${settings.credsFile}: ${(error as Error).message}`);
    }
    options.authenticator = credsAuthenticator(creds);
  }
  if (settings.tlsCa !== undefined || settings.tlsCert !== undefined) {
    options.tls = {
      ...(settings.tlsCa === undefined ? {} : { caFile: settings.tlsCa }),
      ...(settings.tlsCert === undefined ? {} : { certFile: settings.tlsCert }),
      ...(settings.tlsKey === undefined ? {} : { keyFile: settings.tlsKey }),
    };
  }
  let connection: NatsConnection;
  try {
    connection = await connect(options);
  } catch (error) {
    throw new NatsStartError(refusedReason(where, error, settings.credsFile));
  }
  try {
    const manager = await jetstreamManager(connection, { timeout: NATS_DEFAULTS.connectTimeoutMs });
    return { connection, manager };
  } catch (error) {
    await connection.close().catch(() => undefined);
    throw new NatsStartError(
      `NATS at ${where} answers but JetStream does not: ${(error as Error).message}. Start nats-server with JetStream on (-js, or a jetstream block in its config); ` +
        'on a cluster, wait until it has elected a leader.',
    );
  }
}

/** Why the first connection failed, in words: credentials refused, or what else to check. */
function refusedReason(where: string, error: unknown, credsFile: string | undefined): string {
  const detail = (error as Error).message;
  if ((error as Error).name === 'AuthorizationError' || /authori[sz]ation/i.test(detail)) {
    return credsFile === undefined
      ? `NATS at ${where} refused this node: authorization required (${detail}). Give the credentials file of a NATS user with --nats-creds FILE.`
      : `NATS at ${where} refused the credentials in ${credsFile}: authorization failed (${detail}). Check that the file holds the user JWT and seed ` +
          'of a user this server accepts (nsc generate creds, or a user nkey in its authorization block), and that the user is not revoked.';
  }
  return (
    `cannot connect to NATS at ${where}: ${detail}. Check that nats-server runs there with JetStream on (nats-server -js), ` +
    'that the address and port are right and reachable from here, and the credentials (--nats-creds) and TLS options (--nats-tls-*) it needs.'
  );
}
