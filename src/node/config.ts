// The node's settings as one typed value, with every default in one place. The CLI
// validates flags into this; tests build it directly.

export const LETS_ENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETS_ENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface NodeConfig {
  /** Plain (or, with tlsCert/tlsKey, TLS) listeners. */
  readonly listen: readonly ListenAddress[];
  /** Own certificate and key (PEM) for the `listen` listeners. */
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
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
  /** Static files root; undefined serves the chat page shipped with the package. */
  readonly wwwroot: string | undefined;
  readonly dataDir: string;
  /** Keep messages in memory only (nothing survives a restart) instead of SQLite. */
  readonly memory: boolean;
  /** Retention per channel; 0 disables a limit. */
  readonly retainCount: number;
  readonly retainAgeMs: number;
  readonly retainBytes: number;
  /** How often retention runs. */
  readonly retentionIntervalMs: number;
  /** Mles shared key (MLES_KEY); undefined means unset, which differs from empty. */
  readonly mlesKey: string | undefined;
  /** Frames replayed to an Mles joiner (`--limit`). */
  readonly historyLimit: number;
  /** Bytes replayed to an Mles joiner at most. */
  readonly historyBytes: number;
  /** Largest accepted frame payload in bytes. */
  readonly maxMessage: number;
  /** Bytes that may wait for one slow reader before it is disconnected. */
  readonly maxBuffered: number;
  readonly headerTimeoutMs: number;
  /** New connections per IP per minute; 0 disables the limit. */
  readonly rateLimit: number;
  readonly pingIntervalMs: number;
  /** Pings in a row without a pong before a connection is dropped. */
  readonly maxMissedPings: number;
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
} as const;

export function defaultConfig(overrides: Partial<NodeConfig> = {}): NodeConfig {
  return {
    listen: [DEFAULTS.listen],
    tlsCert: undefined,
    tlsKey: undefined,
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
    wwwroot: undefined,
    dataDir: DEFAULTS.dataDir,
    memory: false,
    retainCount: DEFAULTS.retainCount,
    retainAgeMs: DEFAULTS.retainAgeMs,
    retainBytes: DEFAULTS.retainBytes,
    retentionIntervalMs: DEFAULTS.retentionIntervalMs,
    mlesKey: undefined,
    historyLimit: DEFAULTS.historyLimit,
    historyBytes: DEFAULTS.historyBytes,
    maxMessage: DEFAULTS.maxMessage,
    maxBuffered: DEFAULTS.maxBuffered,
    headerTimeoutMs: DEFAULTS.headerTimeoutSeconds * 1000,
    rateLimit: DEFAULTS.rateLimit,
    pingIntervalMs: DEFAULTS.pingIntervalMs,
    maxMissedPings: DEFAULTS.maxMissedPings,
    peers: [],
    peersFile: undefined,
    peersUrl: undefined,
    peersIntervalMs: DEFAULTS.peersIntervalMs,
    trust: [],
    peerKey: undefined,
    peerRate: DEFAULTS.peerRate,
    ...overrides,
  };
}
