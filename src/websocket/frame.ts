// WebSocket frame codec (RFC 6455), shared by the node and the load generator: builds
// frames (masked for clients, plain for servers) and parses a run of frames in place,
// handing each payload out as a byte range of the buffer it arrived in (no allocation
// per frame). Pure: no sockets; the stateful rules of a connection are in reader.ts.

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Called for each complete frame; the payload is `buf[start, end)`, already unmasked. */
export type FrameHandler = (opcode: number, fin: boolean, buf: Buffer, start: number, end: number, masked: boolean) => void;

/** A frame that cannot be accepted, with the close code RFC 6455 gives for it. */
export class FrameError extends Error {
  readonly closeCode: number;
  constructor(message: string, closeCode = 1002) {
    super(message);
    this.closeCode = closeCode;
  }
}

/** Bytes of header needed for a payload of `len` bytes. */
export function headerLength(len: number, masked: boolean): number {
  return (len < 126 ? 2 : len < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/** Writes a frame header at `out[off]` and returns its length. */
export function writeHeader(
  out: Buffer,
  off: number,
  opcode: number,
  len: number,
  maskKey: Uint8Array | undefined,
  fin = true,
): number {
  out[off] = (fin ? 0x80 : 0) | (opcode & 0x0f);
  const maskBit = maskKey === undefined ? 0 : 0x80;
  let p = off + 2;
  if (len < 126) {
    out[off + 1] = maskBit | len;
  } else if (len < 0x10000) {
    out[off + 1] = maskBit | 126;
    out.writeUInt16BE(len, p);
    p += 2;
  } else {
    out[off + 1] = maskBit | 127;
    out.writeUInt32BE(Math.floor(len / 0x100000000), p);
    out.writeUInt32BE(len >>> 0, p + 4);
    p += 8;
  }
  if (maskKey !== undefined) {
    out[p] = maskKey[0] ?? 0;
    out[p + 1] = maskKey[1] ?? 0;
    out[p + 2] = maskKey[2] ?? 0;
    out[p + 3] = maskKey[3] ?? 0;
    p += 4;
  }
  return p - off;
}

/** XORs `buf[start, end)` with the 4-byte key, the key's byte 0 falling on `start`. */
export function applyMask(buf: Buffer, start: number, end: number, key: Uint8Array): void {
  const k0 = key[0] ?? 0;
  const k1 = key[1] ?? 0;
  const k2 = key[2] ?? 0;
  const k3 = key[3] ?? 0;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    buf[i] = (buf[i] ?? 0) ^ k0;
    buf[i + 1] = (buf[i + 1] ?? 0) ^ k1;
    buf[i + 2] = (buf[i + 2] ?? 0) ^ k2;
    buf[i + 3] = (buf[i + 3] ?? 0) ^ k3;
  }
  for (let j = 0; i < end; i++, j++) buf[i] = (buf[i] ?? 0) ^ (key[j] ?? 0);
}

/**
 * Encodes one frame. A client must mask (`maskKey` of 4 bytes); a server must not.
 * The payload is copied, never modified.
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  maskKey?: Uint8Array,
  fin = true,
): Buffer {
  const hl = headerLength(payload.length, maskKey !== undefined);
  const out = Buffer.allocUnsafe(hl + payload.length);
  writeHeader(out, 0, opcode, payload.length, maskKey, fin);
  out.set(payload, hl);
  if (maskKey !== undefined) applyMask(out, hl, out.length, maskKey);
  return out;
}

/**
 * Parses the complete frames in `buf[start, end)`, calls `onFrame` for each and returns
 * the offset just past the last one. Masked payloads are unmasked in place. Throws
 * FrameError on a frame larger than `maxPayload` or with reserved bits set.
 */
export function parseFrames(
  buf: Buffer,
  start: number,
  end: number,
  onFrame: FrameHandler,
  maxPayload = 64 * 1024 * 1024,
): number {
  let pos = start;
  while (end - pos >= 2) {
    const b0 = buf[pos] ?? 0;
    const b1 = buf[pos + 1] ?? 0;
    if ((b0 & 0x70) !== 0) throw new FrameError('reserved bits set');
    const masked = (b1 & 0x80) !== 0;
    let len = b1 & 0x7f;
    let p = pos + 2;
    if (len === 126) {
      if (end - p < 2) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (end - p < 8) break;
      len = buf.readUInt32BE(p) * 0x100000000 + buf.readUInt32BE(p + 4);
      p += 8;
    }
    if (len > maxPayload) throw new FrameError('frame too big', 1009);
    let keyAt = -1;
    if (masked) {
      keyAt = p;
      p += 4;
    }
    if (end - p < len) break;
    if (keyAt >= 0) applyMask(buf, p, p + len, buf.subarray(keyAt, keyAt + 4));
    pos = p + len;
    onFrame(b0 & 0x0f, (b0 & 0x80) !== 0, buf, p, pos, masked);
  }
  return pos;
}
