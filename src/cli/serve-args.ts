// `parley serve` flags -> NodeConfig. Flags shared with the Mles reference server keep
// its names and meanings; everything is validated here, once, into typed values.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { isName, NAME_RULE, nameError } from '../access/names.ts';
import { DEFAULTS, defaultConfig, LETS_ENCRYPT, LETS_ENCRYPT_STAGING, type ListenAddress, type MatrixConfig, type NodeConfig, type P2PConfig } from '../node/config.ts';
import { NATS_DEFAULTS, type NatsSettings } from '../jetstream/settings.ts';
import { MAX_ABOUT } from '../p2p/directory.ts';
import { ConfigFileError, nearestName, parseConfigText, settingsToArgs, type FileSetting } from './config-file.ts';
import type { GivenSetting } from './print-config.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const SERVE_USAGE = `Usage: parley serve [options]

Runs a parley node. Without --domains it serves plain ws:// and http:// on
${DEFAULTS.listen.host}:${DEFAULTS.listen.port}, with a chat page at /.

Mles-compatible options:
  -d, --domains DOMAIN      Domain to serve with an ACME (Let's Encrypt) certificate,
                            obtained over TLS-ALPN-01 on the serving port. Repeatable.
                            Using it agrees to the CA's terms of service.
  -e, --email EMAIL         Contact e-mail for the ACME account. Repeatable.
  -c, --cache DIR           ACME account and certificate cache (default: DATA/acme).
  -l, --limit N             History frames replayed to an Mles joiner (default: ${DEFAULTS.historyLimit}).
  -w, --wwwroot DIR         Static files root; with --domains files come from DIR/HOST/.
                            Default: the bundled chat page.
  -s, --staging             Use Let's Encrypt's staging directory.
  -p, --port PORT           TLS port with --domains (default: ${DEFAULTS.acmePort}); without
                            domains, the port of the default plain listener.
  -r, --redirect            With --domains, also listen on port 80 and redirect to https.
      --rate-limit N        New connections per IP address per minute; 0 = unlimited
                            (default: ${DEFAULTS.rateLimit}).

parley options:
      --listen HOST:PORT    Plain ws/http listener (TLS with --tls-cert). Repeatable.
                            Default ${DEFAULTS.listen.host}:${DEFAULTS.listen.port} when no --domains are given.
      --tls-cert FILE       PEM certificate (chain) for the --listen listeners.
      --tls-key FILE        PEM private key for --tls-cert.
      --acme-directory URL  ACME directory of another CA (a private or test CA).
      --acme-ca FILE        PEM CA certificate to trust when talking to that CA.
      --max-message BYTES   Largest frame accepted; larger ones close with 1009
                            (default: ${DEFAULTS.maxMessage}).
      --history-bytes BYTES History bytes replayed to an Mles joiner at most
                            (default: ${DEFAULTS.historyBytes}).
      --max-buffered BYTES  Bytes queued for one slow reader before it is dropped
                            with 4429 (default: ${DEFAULTS.maxBuffered}).
      --header-timeout SECONDS
                            Time a new connection has to send its header; then 4408
                            (default: ${DEFAULTS.headerTimeoutSeconds}).
      --ping-interval SECONDS
                            Keepalive ping period; a connection is dropped after
                            ${DEFAULTS.maxMissedPings} unanswered pings (default: ${DEFAULTS.pingIntervalMs / 1000}).
      --data DIR            Data directory: the message store (parley.db) and the
                            node's key (node.key) (default: ${DEFAULTS.dataDir}).
      --memory              Keep messages in memory only; nothing survives a restart.
      --retain-count N      Messages kept per channel; 0 = no limit (default: ${DEFAULTS.retainCount};
                            with --matrix 0, as for the two below).
      --retain-age AGE      Messages older than this go: 90s, 30m, 12h, 30d; 0 = no
                            limit (default: ${DEFAULTS.retainAgeMs / 86_400_000}d).
      --retain-bytes BYTES  Payload bytes kept per channel; 0 = no limit
                            (default: ${DEFAULTS.retainBytes}).
      --retention-interval AGE
                            How often retention runs (default: ${DEFAULTS.retentionIntervalMs / 1000}s).

Scaling out over NATS JetStream (see the README's "Scaling out"):
      --nats URL[,URL...]   Keep messages in a JetStream stream shared by every parley
                            node given the same servers and stream, instead of SQLite.
                            nats://HOST:PORT or tls://HOST:PORT. Repeatable.
      --nats-stream NAME    The stream (default: ${NATS_DEFAULTS.stream}); created, or updated to
                            the replicas asked, at start.
      --nats-replicas N     JetStream replicas of the stream: 1, or 3 on a cluster of
                            three or more servers (default: ${NATS_DEFAULTS.replicas}).
      --nats-creds FILE     NATS credentials file (JWT and seed) to connect with.
      --nats-tls-ca FILE    PEM CA certificate to trust for tls:// servers.
      --nats-tls-cert FILE  PEM client certificate for NATS (with --nats-tls-key).
      --nats-tls-key FILE   PEM private key of --nats-tls-cert.

Peering (see the README's "A network of nodes"):
      --peer URL            Dial this node (ws:// or wss://) and keep the link up.
                            Repeatable.
      --peers-file FILE     Peer URLs, one a line (# comments); re-read on change.
      --peers-url URL       Peer URLs, one a line, fetched every --peers-interval.
      --peers-interval AGE  How often --peers-url is fetched (default: ${DEFAULTS.peersIntervalMs / 1000}s).
      --trust NODEID        Only link with these nodes (see 'parley keys show').
                            Repeatable. Inbound links need --trust or PEER_KEY.
      --peer-rate N         Messages per second a peer may send (it is told, and
                            paces itself); more is cut off as a flood; 0 = no limit
                            (default: ${DEFAULTS.peerRate}).

Peer to peer (libp2p; see the README's "Peer to peer"):
      --p2p                 Run a libp2p host beside the WebSocket server. The other
                            p2p flags need it.
      --p2p-listen MULTIADDR
                            Listen on this libp2p address. Repeatable. Default:
                            ${DEFAULTS.p2pListen.join(' and ')}.
                            /p2p-circuit: reserve a slot on a relay among the peers.
      --p2p-announce MULTIADDR
                            Advertise this address instead of the listening ones
                            (a public address or DNS name in front of a NAT). Repeatable.
      --bootstrap MULTIADDR Keep connected to this peer (its address ending in
                            /p2p/PEERID, as 'parley p2p status' prints); redialled
                            with backoff. Repeatable.
      --no-mdns             Do not find or announce peers on the LAN with mDNS.
      --p2p-secret FILE     Private network: only nodes with the same swarm key file
                            (/key/swarm/psk/1.0.0/, /base16/, 64 hex digits) connect.
      --relay               Serve as a circuit relay for nodes that cannot be reached.
      --p2p-name NAME       Claim this name in the DHT ('parley p2p find NAME').
                            Repeatable.
      --p2p-channels LIST   Channels (comma-separated) this node keeps even with no
                            clients on them.
      --public CHANNEL[=ABOUT]
                            List the channel, with a description, in the network's
                            directory of public channels (GET /v1/directory,
                            'parley p2p channels'). Repeatable.

Matrix clients (see the README's "Matrix clients"):
      --matrix              Serve the Matrix client-server API under /_matrix/client/
                            on the node's listeners; rooms are parley channels.
      --server-name NAME    Server part of Matrix ids (@name:NAME); default: the
                            node's id. Keep it once users exist: ids carry it.
      --matrix-registration MODE
                            open, token (needs --matrix-registration-token) or
                            closed (default: closed; token when a token is given).
      --matrix-registration-token TOKEN
                            The token new users give to register.
      --matrix-login-rate N Logins and registrations per address per minute; 0 =
                            no limit (default: ${DEFAULTS.matrixLoginRate}).
      --matrix-send-rate N  Events a user may send per second (ten times that in a
                            burst); 0 = no limit (default: ${DEFAULTS.matrixSendRate}).

      --log-level LEVEL     ${LOG_LEVELS.join(', ')} (default: info).
      --config FILE         Settings from FILE, one "name = value" a line with the
                            long flag names (repeat the line of a repeatable one;
                            true or false for on/off ones; # starts a comment line).
                            Flags given as well override the file's.
      --print-config        Print the settings in effect, secrets hidden, and exit.
  -h, --help                Show this help.

Environment:
  MLES_KEY                  Shared key: when set (even empty) every header needs a
                            matching auth value.
  PEER_KEY                  Shared peering secret: every peer must prove it knows it.
                            Use a long random one: openssl rand -hex 32
  DIRECTORY_KEY             With --p2p: a native client may list a channel in the
                            directory (as --public does), or take one it listed off
                            it, if its auth is computed with this key; unset, no
                            client may. Use a long random one.
`;

export class UsageError extends Error {}

export interface ServeOptions {
  readonly config: NodeConfig;
  readonly logLevel: LogLevel;
  readonly help: boolean;
  /** --print-config: show the settings in effect rather than start. */
  readonly printConfig: boolean;
  /** Every setting given, by flag or in the config file, for --print-config. */
  readonly given: readonly GivenSetting[];
}

function positiveInteger(flag: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a whole number, got "${value}"`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag} must be at least ${min}, got ${value}`);
  return n;
}

function port(flag: string, value: string): number {
  const n = positiveInteger(flag, value, 0);
  if (n > 65535) throw new UsageError(`${flag}: port ${n} is out of range (0-65535)`);
  return n;
}

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration: a number with a unit (s, m, h, d), or 0. */
export function parseDuration(flag: string, value: string): number {
  if (value === '0') return 0;
  const match = /^(\d+)([smhd])$/.exec(value);
  if (!match) throw new UsageError(`${flag} takes a number with a unit (s, m, h or d), like 30d; got "${value}"`);
  return Number(match[1]) * DURATION_UNITS[match[2]!]!;
}

/** Parses `HOST:PORT`, `[V6]:PORT`, `:PORT` (all addresses) or `PORT` (loopback). */
export function parseListen(value: string): ListenAddress {
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(value);
  if (v6) return { host: v6[1]!, port: port('--listen', v6[2]!) };
  if (/^\d+$/.test(value)) return { host: DEFAULTS.listen.host, port: port('--listen', value) };
  const colon = value.lastIndexOf(':');
  if (colon < 0) throw new UsageError(`--listen takes HOST:PORT, got "${value}"`);
  const host = value.slice(0, colon) || '0.0.0.0';
  return { host, port: port('--listen', value.slice(colon + 1)) };
}

function readPem(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(error as Error).message}`);
  }
}

/** A peer URL: ws:// or wss://, as given (the same URL names the same peer). */
export function peerUrl(flag: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${flag} must be a ws:// or wss:// URL, got "${value}"`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new UsageError(`${flag} must be a ws:// or wss:// URL, got "${value}"`);
  return value;
}

interface P2PFlags {
  readonly p2p?: boolean;
  readonly 'p2p-listen'?: string[];
  readonly 'p2p-announce'?: string[];
  readonly bootstrap?: string[];
  readonly 'no-mdns'?: boolean;
  readonly 'p2p-secret'?: string;
  readonly relay?: boolean;
  readonly 'p2p-name'?: string[];
  readonly 'p2p-channels'?: string;
  readonly public?: string[];
}

/**
 * The p2p flags. Multiaddrs and the secret file are checked when the host starts (a bad
 * one exits 1 there), so that parsing flags never loads libp2p's multiaddr code.
 */
function parseP2PFlags(values: P2PFlags): Partial<P2PConfig> {
  const given = (['p2p-listen', 'p2p-announce', 'bootstrap', 'no-mdns', 'p2p-secret', 'relay', 'p2p-name', 'p2p-channels', 'public'] as const).filter(
    (flag) => values[flag] !== undefined,
  );
  if (!values.p2p) {
    if (given.length > 0) throw new UsageError(`--${given[0]} needs --p2p`);
    return { enabled: false };
  }
  const names = (values['p2p-name'] ?? []).map((name) => {
    const error = nameError('--p2p-name', name);
    if (error !== undefined) throw new UsageError(`${error} (a name is ${NAME_RULE})`);
    // A find query of 32 hex digits is a node id, so such a name could never be found.
    if (/^[0-9a-f]{32}$/i.test(name)) throw new UsageError(`--p2p-name: "${name}" looks like a node id (32 hex digits); choose another name`);
    return name;
  });
  return {
    enabled: true,
    ...(values['p2p-listen'] === undefined ? {} : { listen: values['p2p-listen'] }),
    announce: values['p2p-announce'] ?? [],
    bootstrap: values.bootstrap ?? [],
    mdns: !values['no-mdns'],
    secretFile: values['p2p-secret'],
    relay: values.relay ?? false,
    names: [...new Set(names)],
    channels: values['p2p-channels'] === undefined ? [] : parseChannelList(values['p2p-channels']),
    public: (values.public ?? []).map(parsePublic),
  };
}

/** `--public CHANNEL[=ABOUT]`: the channel's name, then what it is about. */
function parsePublic(text: string): { channel: string; about: string } {
  const at = text.indexOf('=');
  const channel = at < 0 ? text : text.slice(0, at);
  const about = at < 0 ? '' : text.slice(at + 1);
  if (!isName(channel)) throw new UsageError(`--public: "${channel}" is not a channel name (${NAME_RULE})`);
  if (about.length > MAX_ABOUT) throw new UsageError(`--public: the description of ${channel} is over ${MAX_ABOUT} characters`);
  return { channel, about };
}

interface NatsFlags {
  readonly nats?: string[];
  readonly 'nats-stream'?: string;
  readonly 'nats-replicas'?: string;
  readonly 'nats-creds'?: string;
  readonly 'nats-tls-ca'?: string;
  readonly 'nats-tls-cert'?: string;
  readonly 'nats-tls-key'?: string;
}

/** The --nats flags; undefined without --nats (the others need it). */
export function parseNatsFlags(values: NatsFlags): NatsSettings | undefined {
  const others = (['nats-stream', 'nats-replicas', 'nats-creds', 'nats-tls-ca', 'nats-tls-cert', 'nats-tls-key'] as const).filter((f) => values[f] !== undefined);
  if (values.nats === undefined) {
    if (others.length > 0) throw new UsageError(`--${others[0]} needs --nats`);
    return undefined;
  }
  const servers = values.nats.flatMap((list) => list.split(',')).map((url) => url.trim()).filter((url) => url !== '');
  if (servers.length === 0) throw new UsageError('--nats needs at least one server URL, like nats://127.0.0.1:4222');
  for (const url of servers) {
    if (!/^((nats|tls):\/\/)?[^\s/:]+(:\d{1,5})?$/.test(url) && !/^((nats|tls):\/\/)?\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(url)) {
      throw new UsageError(`--nats: "${url}" is not a NATS server URL (nats://HOST:PORT or tls://HOST:PORT)`);
    }
  }
  const stream = values['nats-stream'] ?? NATS_DEFAULTS.stream;
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(stream)) throw new UsageError(`--nats-stream: "${stream}" must be 1-32 letters, digits, - or _`);
  const replicas = positiveInteger('--nats-replicas', values['nats-replicas'], NATS_DEFAULTS.replicas, 1);
  if (replicas > 5) throw new UsageError(`--nats-replicas must be 1 to 5 (JetStream's limit), got ${replicas}`);
  if ((values['nats-tls-cert'] === undefined) !== (values['nats-tls-key'] === undefined)) throw new UsageError('--nats-tls-cert and --nats-tls-key go together');
  return {
    servers,
    stream,
    replicas,
    credsFile: values['nats-creds'],
    tlsCa: values['nats-tls-ca'],
    tlsCert: values['nats-tls-cert'],
    tlsKey: values['nats-tls-key'],
    publishTimeoutMs: NATS_DEFAULTS.publishTimeoutMs,
  };
}

interface MatrixFlags {
  readonly matrix?: boolean;
  readonly 'server-name'?: string;
  readonly 'matrix-registration'?: string;
  readonly 'matrix-registration-token'?: string;
  readonly 'matrix-login-rate'?: string;
  readonly 'matrix-send-rate'?: string;
}

/** The Matrix gateway's flags; they need --matrix. */
function parseMatrixFlags(values: MatrixFlags): Partial<MatrixConfig> {
  const given = (['server-name', 'matrix-registration', 'matrix-registration-token', 'matrix-login-rate', 'matrix-send-rate'] as const).filter((flag) => values[flag] !== undefined);
  if (!values.matrix) {
    if (given.length > 0) throw new UsageError(`--${given[0]} needs --matrix`);
    return {};
  }
  const serverName = values['server-name'];
  if (serverName !== undefined && !/^[A-Za-z0-9.-]{1,230}(:\d{1,5})?$/.test(serverName)) {
    throw new UsageError(`--server-name must be a host name (letters, digits, dots, dashes) with an optional :port, got "${serverName}"`);
  }
  const token = values['matrix-registration-token'];
  const mode = values['matrix-registration'] ?? (token === undefined ? 'closed' : 'token');
  if (mode !== 'open' && mode !== 'token' && mode !== 'closed') throw new UsageError(`--matrix-registration must be open, token or closed, got "${mode}"`);
  if (mode === 'token' && (token === undefined || token.length === 0)) throw new UsageError('--matrix-registration token needs --matrix-registration-token TOKEN');
  if (mode !== 'token' && token !== undefined) throw new UsageError(`--matrix-registration-token goes with --matrix-registration token, not ${mode}`);
  return {
    enabled: true,
    serverName,
    registration: mode,
    registrationToken: token,
    loginRate: positiveInteger('--matrix-login-rate', values['matrix-login-rate'], DEFAULTS.matrixLoginRate),
    sendRate: positiveInteger('--matrix-send-rate', values['matrix-send-rate'], DEFAULTS.matrixSendRate),
  };
}

/** `--p2p-channels a,b,c`: channel names, spaces around commas allowed. */
export function parseChannelList(text: string): string[] {
  const channels = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const channel of channels) {
    if (!isName(channel)) throw new UsageError(`--p2p-channels: "${channel}" is not a channel name (${NAME_RULE})`);
  }
  return [...new Set(channels)];
}

/**
 * Every flag of `parley serve`, for node:util parseArgs. A config file (--config) takes
 * the same names: a flag added here works in the file as well, and in --print-config.
 */
export const SERVE_OPTIONS = {
  domains: { type: 'string', short: 'd', multiple: true },
  email: { type: 'string', short: 'e', multiple: true },
  cache: { type: 'string', short: 'c' },
  limit: { type: 'string', short: 'l' },
  wwwroot: { type: 'string', short: 'w' },
  staging: { type: 'boolean', short: 's' },
  port: { type: 'string', short: 'p' },
  redirect: { type: 'boolean', short: 'r' },
  'rate-limit': { type: 'string' },
  listen: { type: 'string', multiple: true },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'acme-directory': { type: 'string' },
  'acme-ca': { type: 'string' },
  'max-message': { type: 'string' },
  'history-bytes': { type: 'string' },
  'max-buffered': { type: 'string' },
  'header-timeout': { type: 'string' },
  'ping-interval': { type: 'string' },
  data: { type: 'string' },
  memory: { type: 'boolean' },
  'retain-count': { type: 'string' },
  'retain-age': { type: 'string' },
  'retain-bytes': { type: 'string' },
  'retention-interval': { type: 'string' },
  nats: { type: 'string', multiple: true },
  'nats-stream': { type: 'string' },
  'nats-replicas': { type: 'string' },
  'nats-creds': { type: 'string' },
  'nats-tls-ca': { type: 'string' },
  'nats-tls-cert': { type: 'string' },
  'nats-tls-key': { type: 'string' },
  peer: { type: 'string', multiple: true },
  'peers-file': { type: 'string' },
  'peers-url': { type: 'string' },
  'peers-interval': { type: 'string' },
  trust: { type: 'string', multiple: true },
  'peer-rate': { type: 'string' },
  p2p: { type: 'boolean' },
  'p2p-listen': { type: 'string', multiple: true },
  'p2p-announce': { type: 'string', multiple: true },
  bootstrap: { type: 'string', multiple: true },
  'no-mdns': { type: 'boolean' },
  'p2p-secret': { type: 'string' },
  relay: { type: 'boolean' },
  'p2p-name': { type: 'string', multiple: true },
  'p2p-channels': { type: 'string' },
  public: { type: 'string', multiple: true },
  matrix: { type: 'boolean' },
  'server-name': { type: 'string' },
  'matrix-registration': { type: 'string' },
  'matrix-registration-token': { type: 'string' },
  'matrix-login-rate': { type: 'string' },
  'matrix-send-rate': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  config: { type: 'string' },
  'print-config': { type: 'boolean' },
} as const satisfies ParseArgsOptionsConfig;

type ServeOptionName = keyof typeof SERVE_OPTIONS;

/** Flags that only make sense on the command line, not in a config file. */
export const COMMAND_LINE_ONLY: readonly ServeOptionName[] = ['config', 'print-config', 'help'];

/** What --print-config shows for a setting that is not given. */
export const SERVE_DEFAULTS: Partial<Record<ServeOptionName, string>> = {
  cache: 'DATA/acme',
  limit: String(DEFAULTS.historyLimit),
  port: `${DEFAULTS.acmePort} with domains, else ${DEFAULTS.listen.port}`,
  'rate-limit': String(DEFAULTS.rateLimit),
  listen: `${DEFAULTS.listen.host}:${DEFAULTS.listen.port} without domains`,
  'max-message': String(DEFAULTS.maxMessage),
  'history-bytes': String(DEFAULTS.historyBytes),
  'max-buffered': String(DEFAULTS.maxBuffered),
  'header-timeout': String(DEFAULTS.headerTimeoutSeconds),
  'ping-interval': String(DEFAULTS.pingIntervalMs / 1000),
  data: DEFAULTS.dataDir,
  memory: 'false',
  staging: 'false',
  redirect: 'false',
  'retain-count': `${DEFAULTS.retainCount} (0 with --matrix)`,
  'retain-age': `${DEFAULTS.retainAgeMs / 86_400_000}d (0 with --matrix)`,
  'retain-bytes': `${DEFAULTS.retainBytes} (0 with --matrix)`,
  'retention-interval': `${DEFAULTS.retentionIntervalMs / 1000}s`,
  'nats-stream': NATS_DEFAULTS.stream,
  'nats-replicas': String(NATS_DEFAULTS.replicas),
  'peers-interval': `${DEFAULTS.peersIntervalMs / 1000}s`,
  'peer-rate': String(DEFAULTS.peerRate),
  p2p: 'false',
  'p2p-listen': DEFAULTS.p2pListen.join(' and '),
  'no-mdns': 'false',
  relay: 'false',
  matrix: 'false',
  'matrix-registration': 'closed',
  'matrix-login-rate': String(DEFAULTS.matrixLoginRate),
  'matrix-send-rate': String(DEFAULTS.matrixSendRate),
  'log-level': 'info',
};

/** Environment variables that hold secrets: --print-config says whether they are set, never what they are. */
export const SECRET_ENVIRONMENT = ['MLES_KEY', 'PEER_KEY', 'DIRECTORY_KEY'] as const;

function parseFlags(args: readonly string[]) {
  try {
    return parseArgs({ args: [...args], strict: true, allowPositionals: false, options: SERVE_OPTIONS }).values;
  } catch (error) {
    const e = error as Error & { code?: string };
    const unknown = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'--([^'=]+)/.exec(e.message)?.[1] : undefined;
    const nearest = unknown === undefined ? undefined : nearestName(unknown, Object.keys(SERVE_OPTIONS));
    throw new UsageError(nearest === undefined ? e.message : `unknown option --${unknown}; did you mean --${nearest}?`);
  }
}

type ServeValues = ReturnType<typeof parseFlags>;

/**
 * Flags, and with --config FILE the file's settings under them: a flag overrides the
 * file's setting of the same name (a repeatable one's lines all together). A bad value
 * from the file is reported with its file and line.
 */
export function parseServeArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  readText: (file: string) => string = (file) => readFileSync(file, 'utf8'),
): ServeOptions {
  const flags = parseFlags(argv);
  const given: GivenSetting[] = [];
  for (const [name, value] of Object.entries(flags)) {
    if (COMMAND_LINE_ONLY.includes(name as ServeOptionName) || value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) given.push({ name, value: one, from: 'the command line' });
  }
  let fromFile: FileSetting[] = [];
  const file = flags.config;
  if (file !== undefined) {
    let text: string;
    try {
      text = readText(file);
    } catch (error) {
      throw new UsageError(`--config: cannot read ${file}: ${(error as Error).message}`);
    }
    try {
      fromFile = parseConfigText(text, file, SERVE_OPTIONS, COMMAND_LINE_ONLY).filter((s) => !(s.name in flags));
    } catch (error) {
      if (error instanceof ConfigFileError) throw new UsageError(error.message);
      throw error;
    }
    for (const s of fromFile) given.push({ name: s.name, value: s.value, from: file });
  }
  const values = fromFile.length === 0 ? flags : parseFlags([...settingsToArgs(fromFile), ...argv]);
  try {
    return { ...buildConfig(values, env), help: values.help ?? false, printConfig: values['print-config'] ?? false, given };
  } catch (error) {
    if (error instanceof UsageError && file !== undefined) throw locate(error, fromFile, file);
    throw error;
  }
}

/** The error, prefixed with FILE:LINE when the flag it names came from the file. */
function locate(error: UsageError, fromFile: readonly FileSetting[], file: string): UsageError {
  for (const [, name] of error.message.matchAll(/--([a-z][a-z0-9-]*)/g)) {
    const lines = fromFile.filter((s) => s.name === name);
    if (lines.length === 0) continue;
    // Of a repeated setting's lines, the one whose value the message quotes.
    const line = lines.find((s) => typeof s.value === 'string' && error.message.includes(s.value)) ?? lines[0]!;
    return new UsageError(`${file}:${line.line}: ${error.message}`);
  }
  return error;
}

function buildConfig(values: ServeValues, env: NodeJS.ProcessEnv): { config: NodeConfig; logLevel: LogLevel } {
  const logLevel = (values['log-level'] ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);

  const domains = (values.domains ?? []).map((d) => d.toLowerCase());
  for (const domain of domains) {
    if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(domain)) {
      throw new UsageError(`--domains: "${domain}" is not a valid domain name`);
    }
  }
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together');
  }
  if (values.redirect && domains.length === 0) throw new UsageError('--redirect needs --domains');
  if (values.staging && values['acme-directory'] !== undefined) {
    throw new UsageError('--staging and --acme-directory both choose the ACME directory: give one');
  }
  const portFlag = values.port === undefined ? undefined : port('--port', values.port);
  let listen: ListenAddress[] = (values.listen ?? []).map(parseListen);
  if (listen.length === 0 && domains.length === 0) {
    listen = [{ host: DEFAULTS.listen.host, port: portFlag ?? DEFAULTS.listen.port }];
  }
  const dataDir = values.data ?? DEFAULTS.dataDir;
  const acmeDirectory = values['acme-directory'] ?? (values.staging ? LETS_ENCRYPT_STAGING : LETS_ENCRYPT);
  if (values['acme-directory'] !== undefined && !/^https?:\/\//.test(acmeDirectory)) {
    throw new UsageError(`--acme-directory must be an http(s) URL, got "${acmeDirectory}"`);
  }

  const peers = (values.peer ?? []).map((url) => peerUrl('--peer', url));
  const trust = (values.trust ?? []).map((id) => {
    if (!/^[0-9a-f]{32}$/.test(id)) throw new UsageError(`--trust takes a node id (32 hex digits, as 'parley keys show' prints), got "${id}"`);
    return id;
  });
  if (values['peers-url'] !== undefined && !/^https?:\/\//.test(values['peers-url'])) {
    throw new UsageError(`--peers-url must be an http(s) URL, got "${values['peers-url']}"`);
  }

  const p2p = parseP2PFlags(values);
  const nats = parseNatsFlags(values);
  if (nats !== undefined && values.memory) throw new UsageError('--memory and --nats both choose where messages are kept: give one');
  const matrix = parseMatrixFlags(values);

  // Sections in the order the flags were always checked: with two bad flags, the same one is reported.
  const config = defaultConfig({
    dataDir,
    http: { listen, wwwroot: values.wwwroot },
    tls: {
      cert: values['tls-cert'] === undefined ? undefined : readPem('--tls-cert', values['tls-cert']),
      key: values['tls-key'] === undefined ? undefined : readPem('--tls-key', values['tls-key']),
      domains,
      emails: values.email ?? [],
      cacheDir: values.cache ?? join(dataDir, 'acme'),
      staging: values.staging ?? false,
      acmeDirectory,
      acmeCa: values['acme-ca'] === undefined ? undefined : readPem('--acme-ca', values['acme-ca']),
      port: domains.length > 0 ? (portFlag ?? DEFAULTS.acmePort) : DEFAULTS.acmePort,
      redirect: values.redirect ?? false,
    },
    mles: {
      key: env.MLES_KEY,
      historyLimit: positiveInteger('--limit', values.limit, DEFAULTS.historyLimit),
      historyBytes: positiveInteger('--history-bytes', values['history-bytes'], DEFAULTS.historyBytes),
    },
    websocket: {
      maxMessage: positiveInteger('--max-message', values['max-message'], DEFAULTS.maxMessage, 1),
      maxBuffered: positiveInteger('--max-buffered', values['max-buffered'], DEFAULTS.maxBuffered, 1024),
      headerTimeoutMs: positiveInteger('--header-timeout', values['header-timeout'], DEFAULTS.headerTimeoutSeconds, 1) * 1000,
      rateLimit: positiveInteger('--rate-limit', values['rate-limit'], DEFAULTS.rateLimit),
      pingIntervalMs: positiveInteger('--ping-interval', values['ping-interval'], DEFAULTS.pingIntervalMs / 1000, 1) * 1000,
    },
    store: {
      backend: values.memory ? 'memory' : 'sqlite',
      // A Matrix room's state is folded from all its events: with --matrix nothing goes unless asked.
      retainCount: positiveInteger('--retain-count', values['retain-count'], values.matrix ? 0 : DEFAULTS.retainCount),
      retainAgeMs: values['retain-age'] === undefined ? (values.matrix ? 0 : DEFAULTS.retainAgeMs) : parseDuration('--retain-age', values['retain-age']),
      retainBytes: positiveInteger('--retain-bytes', values['retain-bytes'], values.matrix ? 0 : DEFAULTS.retainBytes),
      retentionIntervalMs:
        values['retention-interval'] === undefined ? DEFAULTS.retentionIntervalMs : Math.max(1000, parseDuration('--retention-interval', values['retention-interval'])),
    },
    network: {
      peers,
      peersFile: values['peers-file'],
      peersUrl: values['peers-url'],
      peersIntervalMs:
        values['peers-interval'] === undefined ? DEFAULTS.peersIntervalMs : Math.max(1000, parseDuration('--peers-interval', values['peers-interval'])),
      trust,
      peerKey: env.PEER_KEY,
      peerRate: positiveInteger('--peer-rate', values['peer-rate'], DEFAULTS.peerRate),
    },
    p2p: { ...p2p, directoryKey: env.DIRECTORY_KEY },
    nats,
    matrix,
  });
  const { maxBuffered } = config.websocket;
  const { historyBytes } = config.mles;
  if (maxBuffered < historyBytes) {
    throw new UsageError(
      `--max-buffered (${maxBuffered}) must be at least --history-bytes (${historyBytes}): a joiner's history replay has to fit in its send buffer`,
    );
  }
  return { config, logLevel };
}
