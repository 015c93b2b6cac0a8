// The node's settings as one typed value, with every default in one place. The CLI
// validates flags into this; tests build it directly.

import type { NatsSettings } from '../jetstream/settings.ts';
import type { P2PSettings } from '../p2p/settings.ts';

export const LETS_ENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETS_ENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** The node's settings, by part. The sections are what each part of the node is given. */
export interface NodeConfig {
  /** Data directory: the node's key (node.key) and, with SQLite, the store (parley.db). */
  readonly dataDir: string;
  readonly store: StoreConfig;
  readonly http: HttpConfig;
  readonly tls: TlsConfig;
  readonly websocket: WebSocketConfig;
  readonly mles: MlesConfig;
  readonly network: NetworkConfig;
  readonly p2p: P2PConfig;
  /**
   * With --nats: JetStream holds every channel, shared by every node on the same stream,
   * and the store is this node's view of it, in memory (src/jetstream/).
   */
  readonly nats: NatsSettings | undefined;
  readonly matrix: MatrixConfig;
}

/** The Matrix client-server gateway (`--matrix`). */
export interface MatrixConfig {
  readonly enabled: boolean;
  /** The server part of user and room ids; undefined: the node's id. */
  readonly serverName: string | undefined;
  readonly registration: 'open' | 'token' | 'closed';
  readonly registrationToken: string | undefined;
  /** Logins and registrations per address per minute; 0 = no limit. */
  readonly loginRate: number;
  /** Events a user may send per second; 0 = no limit. */
  readonly sendRate: number;
}

/** sqlite: `dataDir/parley.db`; memory: nothing survives a restart. */
export type StoreBackend = 'sqlite' | 'memory';

export interface StoreConfig {
  readonly backend: StoreBackend;
  /** Retention per channel; 0 disables a limit. */
  readonly retainCount: number;
  readonly retainAgeMs: number;
  readonly retainBytes: number;
  /** How often retention runs. */
  readonly retentionIntervalMs: number;
}

export interface HttpConfig {
  /** Plain (or, with tls.cert/tls.key, TLS) listeners. */
  readonly listen: readonly ListenAddress[];
  /** Static files root; undefined serves the chat page shipped with the package. */
  readonly wwwroot: string | undefined;
}

/** Own certificate for the http listeners, and ACME-managed ones (ManagedTlsSettings). */
export interface TlsConfig {
  /** Own certificate and key (PEM) for the `http.listen` listeners. */
  readonly cert: string | undefined;
  readonly key: string | undefined;
  /** ACME-managed domains; with any, an https/wss listener runs on `port`. */
  readonly domains: readonly string[];
  /** ACME account contacts (Mles `-e`, repeatable). */
  readonly emails: readonly string[];
  readonly cacheDir: string;
  readonly staging: boolean;
  /** ACME directory URL (Let's Encrypt, its staging directory, or another CA). */
  readonly acmeDirectory: string;
  /** Extra CA certificate (PEM file contents) trusted when talking to the ACME server. */
  readonly acmeCa: string | undefined;
  /** Port of the ACME-managed TLS listener. */
  readonly port: number;
  /** Host the ACME-managed listeners bind to; undefined: every address, IPv6 and IPv4. */
  readonly bindHost: string | undefined;
  /** Also run a port-80 listener that redirects to https. */
  readonly redirect: boolean;
  readonly redirectPort: number;
}

/** Client connections, whatever protocol they speak over the WebSocket. */
export interface WebSocketConfig {
  /** Largest accepted frame payload in bytes (also what a peer may send). */
  readonly maxMessage: number;
  /** Bytes that may wait for one slow reader before it is disconnected. */
  readonly maxBuffered: number;
  readonly headerTimeoutMs: number;
  /** New connections per IP per minute; 0 disables the limit. */
  readonly rateLimit: number;
  /** Keepalive period, for client connections and peer links alike. */
  readonly pingIntervalMs: number;
  /** Pings in a row without a pong before a connection is dropped. */
  readonly maxMissedPings: number;
}

export interface MlesConfig {
  /** Shared key (MLES_KEY); undefined means unset, which differs from empty. Native and HTTP queries check it too. */
  readonly key: string | undefined;
  /** Frames replayed to an Mles joiner (`--limit`). */
  readonly historyLimit: number;
  /** Bytes replayed to an Mles joiner at most. */
  readonly historyBytes: number;
}

/** Peering with other nodes. */
export interface NetworkConfig {
  /** Peer URLs to dial (`--peer`). */
  readonly peers: readonly string[];
  /** File listing peer URLs, one a line, re-read when it changes (`--peers-file`). */
  readonly peersFile: string | undefined;
  /** URL of such a list, fetched every `peersIntervalMs` (`--peers-url`). */
  readonly peersUrl: string | undefined;
  readonly peersIntervalMs: number;
  /** Node ids allowed to link (`--trust`); empty = any node that knows `peerKey`. */
  readonly trust: readonly string[];
  /** Shared peering secret (PEER_KEY). */
  readonly peerKey: string | undefined;
  /** Messages per second a peer may send; 0 = no limit. */
  readonly peerRate: number;
}

/** Peer-to-peer mode on libp2p (`--p2p`); nothing of it is loaded when off. */
export interface P2PConfig extends P2PSettings {
  readonly enabled: boolean;
  /** DIRECTORY_KEY: native clients that prove they know it may list channels in the directory; undefined: none may. */
  readonly directoryKey: string | undefined;
}

/** Settings to change from the defaults, by section. */
export interface ConfigOverrides {
  readonly dataDir?: string;
  readonly store?: Partial<StoreConfig>;
  readonly http?: Partial<HttpConfig>;
  readonly tls?: Partial<TlsConfig>;
  readonly websocket?: Partial<WebSocketConfig>;
  readonly mles?: Partial<MlesConfig>;
  readonly network?: Partial<NetworkConfig>;
  readonly p2p?: Partial<P2PConfig>;
  readonly nats?: NatsSettings | undefined;
  readonly matrix?: Partial<MatrixConfig>;
}

export const DEFAULTS = {
  listen: { host: '127.0.0.1', port: 8080 },
  acmePort: 443,
  redirectPort: 80,
  cacheDir: './cache',
  dataDir: './data',
  historyLimit: 200,
  retainCount: 100_000,
  retainAgeMs: 30 * 24 * 3600 * 1000,
  retainBytes: 256 * 1024 * 1024,
  retentionIntervalMs: 10_000,
  historyBytes: 8 * 1024 * 1024,
  maxMessage: 1024 * 1024,
  maxBuffered: 16 * 1024 * 1024,
  headerTimeoutSeconds: 10,
  rateLimit: 600,
  pingIntervalMs: 24_000,
  maxMissedPings: 3,
  peersIntervalMs: 60_000,
  peerRate: 200_000,
  matrixLoginRate: 30,
  matrixSendRate: 20,
  // Ports of their own, apart from the node's http port (8080) and the usual IPFS ones (4001).
  p2pListen: ['/ip4/0.0.0.0/tcp/4100', '/ip4/0.0.0.0/tcp/4101/ws'],
} as const;

export function defaultConfig(overrides: ConfigOverrides = {}): NodeConfig {
  return {
    dataDir: overrides.dataDir ?? DEFAULTS.dataDir,
    store: {
      backend: 'sqlite',
      retainCount: DEFAULTS.retainCount,
      retainAgeMs: DEFAULTS.retainAgeMs,
      retainBytes: DEFAULTS.retainBytes,
      retentionIntervalMs: DEFAULTS.retentionIntervalMs,
      ...overrides.store,
    },
    http: { listen: [DEFAULTS.listen], wwwroot: undefined, ...overrides.http },
    tls: {
      cert: undefined,
      key: undefined,
      domains: [],
      emails: [],
      cacheDir: DEFAULTS.cacheDir,
      staging: false,
      acmeDirectory: LETS_ENCRYPT,
      acmeCa: undefined,
      port: DEFAULTS.acmePort,
      bindHost: undefined,
      redirect: false,
      redirectPort: DEFAULTS.redirectPort,
      ...overrides.tls,
    },
    websocket: {
      maxMessage: DEFAULTS.maxMessage,
      maxBuffered: DEFAULTS.maxBuffered,
      headerTimeoutMs: DEFAULTS.headerTimeoutSeconds * 1000,
      rateLimit: DEFAULTS.rateLimit,
      pingIntervalMs: DEFAULTS.pingIntervalMs,
      maxMissedPings: DEFAULTS.maxMissedPings,
      ...overrides.websocket,
    },
    mles: { key: undefined, historyLimit: DEFAULTS.historyLimit, historyBytes: DEFAULTS.historyBytes, ...overrides.mles },
    network: {
      peers: [],
      peersFile: undefined,
      peersUrl: undefined,
      peersIntervalMs: DEFAULTS.peersIntervalMs,
      trust: [],
      peerKey: undefined,
      peerRate: DEFAULTS.peerRate,
      ...overrides.network,
    },
    p2p: {
      enabled: false,
      listen: DEFAULTS.p2pListen,
      announce: [],
      bootstrap: [],
      mdns: true,
      secretFile: undefined,
      relay: false,
      names: [],
      channels: [],
      public: [],
      directoryKey: undefined,
      ...overrides.p2p,
    },
    nats: overrides.nats,
    matrix: {
      enabled: false,
      serverName: undefined,
      registration: 'closed',
      registrationToken: undefined,
      loginRate: DEFAULTS.matrixLoginRate,
      sendRate: DEFAULTS.matrixSendRate,
      ...overrides.matrix,
    },
  };
}
