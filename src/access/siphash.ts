// SipHash-2-4 (Aumasson & Bernstein), the keyed hash Mles uses for its auth value.
// BigInt arithmetic keeps this short and obviously correct; it runs once per join,
// never per message, so its speed does not matter.

const MASK64 = (1n << 64n) - 1n;

function rotl(x: bigint, b: bigint): bigint {
  return ((x << b) | (x >> (64n - b))) & MASK64;
}

function readU64LE(bytes: Uint8Array, offset: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes[offset + i] ?? 0);
  return v;
}

/** SipHash-2-4 of `message` under a 16-byte key (all zeroes when omitted). */
export function sipHash24(message: Uint8Array, key: Uint8Array = new Uint8Array(16)): bigint {
  if (key.length !== 16) throw new RangeError('SipHash key must be 16 bytes');
  const k0 = readU64LE(key, 0);
  const k1 = readU64LE(key, 8);
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;

  const round = (): void => {
    v0 = (v0 + v1) & MASK64; v1 = rotl(v1, 13n); v1 ^= v0; v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK64; v3 = rotl(v3, 16n); v3 ^= v2;
    v0 = (v0 + v3) & MASK64; v3 = rotl(v3, 21n); v3 ^= v0;
    v2 = (v2 + v1) & MASK64; v1 = rotl(v1, 17n); v1 ^= v2; v2 = rotl(v2, 32n);
  };

  const fullWords = message.length - (message.length % 8);
  for (let i = 0; i < fullWords; i += 8) {
    const m = readU64LE(message, i);
    v3 ^= m; round(); round(); v0 ^= m;
  }
  // Last block: remaining bytes, zero padded, with the length's low byte on top.
  let last = BigInt(message.length & 0xff) << 56n;
  for (let i = message.length - 1; i >= fullWords; i--) {
    last |= BigInt(message[i] ?? 0) << BigInt((i - fullWords) * 8);
  }
  v3 ^= last; round(); round(); v0 ^= last;

  v2 ^= 0xffn;
  round(); round(); round(); round();
  return (v0 ^ v1 ^ v2 ^ v3) & MASK64;
}
