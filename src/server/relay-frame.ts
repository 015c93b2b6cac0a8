// A frame as it travels through the node: the payload a client sent, and the
// WebSocket bytes that carry it to others, built once when the frame arrives. Every
// recipient and every later history replay writes the same bytes (PERF.md: encoding
// per recipient is wasted work).

export interface RelayFrame {
  readonly binary: boolean;
  /** The frame's payload: a view into `wire`, so payload and wire share one allocation. */
  readonly payload: Buffer;
  /** The complete unmasked server-to-client WebSocket frame. */
  readonly wire: Buffer;
  /** Bytes held, for history accounting. */
  readonly size: number;
}

/** Length of the header of an unmasked frame carrying `length` payload bytes (RFC 6455 5.2). */
function headerLength(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}

/**
 * Builds a relay frame from a received payload: a single unfragmented frame, FIN set,
 * no extensions (compression is off). The payload is copied into the frame: `ws`
 * hands out views into its read buffer, and keeping one would pin the whole chunk.
 */
export function relayFrame(payload: Buffer | string, binary: boolean): RelayFrame {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
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
  else payload.copy(wire, offset);
  return { binary, payload: wire.subarray(offset), wire, size: wire.length };
}
