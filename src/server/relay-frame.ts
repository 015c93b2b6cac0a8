// A frame as it travels through the node: the payload a client sent, and the
// WebSocket bytes that carry it to others, built once when the frame arrives. Every
// recipient and every later history replay writes the same bytes (PERF.md: encoding
// per recipient is wasted work).

export interface RelayFrame {
  readonly binary: boolean;
  /** The complete unmasked server-to-client WebSocket frame; the payload is its tail. */
  readonly wire: Buffer;
  /** Bytes held, for history accounting. */
  readonly size: number;
}

/** The payload a relay frame carries (a view, no copy). */
export function payloadOf(frame: RelayFrame): Buffer {
  const length = frame.wire.length;
  return frame.wire.subarray(length - payloadLengthOf(frame.wire));
}

function payloadLengthOf(wire: Buffer): number {
  const short = (wire[1] ?? 0) & 0x7f;
  if (short < 126) return short;
  if (short === 126) return wire.readUInt16BE(2);
  return wire.readUInt32BE(2) * 0x1_0000_0000 + wire.readUInt32BE(6);
}

/** Length of the header of an unmasked frame carrying `length` payload bytes (RFC 6455 5.2). */
function headerLength(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}

/**
 * Builds a relay frame from a received payload, `payload[start, end)`: a single
 * unfragmented frame, FIN set, no extensions (compression is off). The bytes are copied:
 * they are a view into a socket's read buffer, and keeping one would pin the whole chunk.
 * Taking a range rather than a view saves an object per frame on the hot path.
 */
export function relayFrame(payload: Buffer | string, binary: boolean, start = 0, end = payload.length): RelayFrame {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : end - start;
  const offset = headerLength(length);
  const wire = Buffer.allocUnsafe(offset + length);
  wire[0] = 0x80 | (binary ? 0x02 : 0x01);
  if (length < 126) {
    wire[1] = length;
  } else if (length < 0x10000) {
    wire[1] = 126;
    wire.writeUInt16BE(length, 2);
  } else {
    wire[1] = 127;
    wire.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    wire.writeUInt32BE(length >>> 0, 6);
  }
  if (typeof payload === 'string') wire.write(payload, offset, 'utf8');
  else payload.copy(wire, offset, start, end);
  return { binary, wire, size: wire.length };
}
