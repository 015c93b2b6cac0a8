// Reads the server name (SNI) and the offered ALPN protocols from the first bytes a
// TLS client sends. Pure and total: every byte string gives a result, never an exception.
// The TLS listener uses it to tell an ACME TLS-ALPN-01 validation (ALPN `acme-tls/1`,
// RFC 8737) apart from ordinary https clients before any TLS code sees the connection.

export interface ClientHello {
  /** The first host_name in the server_name extension, lower-cased; undefined without SNI. */
  readonly serverName: string | undefined;
  /** ALPN protocol names in the client's order; empty without the ALPN extension. */
  readonly alpn: readonly string[];
}

export type ClientHelloResult =
  /** A prefix of a plausible ClientHello: read more bytes and parse again from the start. */
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'client-hello'; readonly hello: ClientHello }
  /** Not a TLS ClientHello we can read (another protocol, SSLv2, malformed or too large). */
  | { readonly kind: 'not-tls'; readonly reason: string };

/** Largest ClientHello handshake message accepted (real ones are 0.2 to 3 KiB). */
export const MAX_CLIENT_HELLO = 16 * 1024;

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const RECORD_HEADER = 5;
const HANDSHAKE_HEADER = 4;
/** A plaintext record carries at most 2^14 bytes (RFC 8446 5.1). */
const MAX_RECORD = 1 << 14;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const SNI_HOST_NAME = 0;

const INCOMPLETE: ClientHelloResult = { kind: 'incomplete' };
const notTls = (reason: string): ClientHelloResult => ({ kind: 'not-tls', reason });

export function parseClientHello(bytes: Uint8Array): ClientHelloResult {
  // A handshake message may be split over several records: join their fragments.
  const fragments: Uint8Array[] = [];
  let joined = 0;
  let wanted: number | undefined;
  let offset = 0;
  for (;;) {
    if (offset < bytes.length && bytes[offset] !== RECORD_HANDSHAKE) return notTls('not a TLS handshake record');
    if (offset + 1 < bytes.length && bytes[offset + 1] !== 0x03) return notTls('not a TLS record version');
    if (bytes.length < offset + RECORD_HEADER) return INCOMPLETE;
    const length = ((bytes[offset + 3] ?? 0) << 8) | (bytes[offset + 4] ?? 0);
    if (length === 0 || length > MAX_RECORD) return notTls('bad TLS record length');
    const start = offset + RECORD_HEADER;
    const available = bytes.subarray(start, Math.min(start + length, bytes.length));
    fragments.push(available);
    joined += available.length;
    if (wanted === undefined && joined >= HANDSHAKE_HEADER) {
      const head = concat(fragments, joined);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return notTls('first handshake message is not a ClientHello');
      wanted = HANDSHAKE_HEADER + (((head[1] ?? 0) << 16) | ((head[2] ?? 0) << 8) | (head[3] ?? 0));
      if (wanted - HANDSHAKE_HEADER > MAX_CLIENT_HELLO) return notTls('ClientHello too large');
    }
    if (wanted !== undefined && joined >= wanted) {
      return parseBody(concat(fragments, joined).subarray(HANDSHAKE_HEADER, wanted));
    }
    if (available.length < length) return INCOMPLETE;
    offset = start + length;
  }
}

function concat(parts: readonly Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Bounds-checked reads over one byte range; every read returns undefined on overrun. */
class Reader {
  private at = 0;
  private readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  get remaining(): number {
    return this.bytes.length - this.at;
  }

  u8(): number | undefined {
    return this.at + 1 <= this.bytes.length ? this.bytes[this.at++] : undefined;
  }

  u16(): number | undefined {
    const high = this.u8();
    const low = this.u8();
    return high === undefined || low === undefined ? undefined : (high << 8) | low;
  }

  take(length: number | undefined): Reader | undefined {
    if (length === undefined || this.at + length > this.bytes.length) return undefined;
    const slice = new Reader(this.bytes.subarray(this.at, this.at + length));
    this.at += length;
    return slice;
  }

  text(): string {
    return String.fromCharCode(...this.bytes.subarray(this.at));
  }
}

function parseBody(body: Uint8Array): ClientHelloResult {
  const r = new Reader(body);
  if (r.take(2 + 32) === undefined) return notTls('ClientHello truncated: version and random'); // legacy_version, random
  const sessionId = r.u8();
  if (sessionId === undefined || sessionId > 32 || r.take(sessionId) === undefined) {
    return notTls('ClientHello: bad session id');
  }
  const suites = r.u16();
  if (suites === undefined || suites < 2 || suites % 2 !== 0 || r.take(suites) === undefined) {
    return notTls('ClientHello: bad cipher suites');
  }
  const compression = r.u8();
  if (compression === undefined || compression < 1 || r.take(compression) === undefined) {
    return notTls('ClientHello: bad compression methods');
  }
  if (r.remaining === 0) return { kind: 'client-hello', hello: { serverName: undefined, alpn: [] } };
  const extensions = r.take(r.u16());
  if (extensions === undefined || r.remaining !== 0) return notTls('ClientHello: bad extensions length');

  let serverName: string | undefined;
  let alpn: string[] = [];
  while (extensions.remaining > 0) {
    const type = extensions.u16();
    const data = extensions.take(extensions.u16());
    if (type === undefined || data === undefined) return notTls('ClientHello: truncated extension');
    if (type === EXT_SERVER_NAME) {
      const parsed = parseServerName(data);
      if (parsed === null) return notTls('ClientHello: bad server_name extension');
      serverName = parsed;
    } else if (type === EXT_ALPN) {
      const parsed = parseAlpn(data);
      if (parsed === undefined) return notTls('ClientHello: bad ALPN extension');
      alpn = parsed;
    }
  }
  return { kind: 'client-hello', hello: { serverName, alpn } };
}

/** The first host_name, undefined when the list has none, null when malformed. */
function parseServerName(data: Reader): string | undefined | null {
  const list = data.take(data.u16());
  if (list === undefined || data.remaining !== 0 || list.remaining === 0) return null;
  let name: string | undefined;
  while (list.remaining > 0) {
    const type = list.u8();
    const value = list.take(list.u16());
    if (type === undefined || value === undefined) return null;
    if (type === SNI_HOST_NAME && name === undefined) {
      if (value.remaining === 0) return null;
      name = value.text().toLowerCase();
    }
  }
  return name;
}

function parseAlpn(data: Reader): string[] | undefined {
  const list = data.take(data.u16());
  if (list === undefined || data.remaining !== 0 || list.remaining === 0) return undefined;
  const protocols: string[] = [];
  while (list.remaining > 0) {
    const name = list.take(list.u8());
    if (name === undefined || name.remaining === 0) return undefined;
    protocols.push(name.text());
  }
  return protocols;
}
