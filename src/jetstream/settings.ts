// The --nats settings and their defaults, apart from the NATS client: the flags are
// parsed on every start, and the client is loaded only when --nats is given.

export interface NatsSettings {
  /** Server URLs (nats://, tls://, or host:port). */
  readonly servers: readonly string[];
  /** The stream holding every channel (created or updated at start). */
  readonly stream: string;
  /** JetStream replicas of the stream: 1, or 3 on a three-server cluster. */
  readonly replicas: number;
  /** A NATS credentials file (JWT and NKey seed), as `nats` and nsc write them. */
  readonly credsFile: string | undefined;
  /** PEM files for TLS to NATS: a CA to trust, and a client certificate and key. */
  readonly tlsCa: string | undefined;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  /** How long a publish waits for JetStream to store it before it fails. */
  readonly publishTimeoutMs: number;
}

export const NATS_DEFAULTS = { stream: 'PARLEY', replicas: 1, publishTimeoutMs: 5000, connectTimeoutMs: 3000 } as const;
