// The private-network key (--p2p-secret): a libp2p swarm key file in the standard
// format that go-ipfs and js-libp2p share. Parsing is pure and says exactly what is
// wrong; reading the file is the only I/O here.

import { readFileSync } from 'node:fs';
import { P2PStartError } from './errors.ts';

export const SWARM_KEY_FORMAT =
  'a swarm key file has three lines: "/key/swarm/psk/1.0.0/", "/base16/" and 64 hex digits ' +
  "(make one with: printf '/key/swarm/psk/1.0.0/\\n/base16/\\n%s\\n' \"$(openssl rand -hex 32)\" > swarm.key)";

const HEADER = '/key/swarm/psk/1.0.0/';
const ENCODING = '/base16/';

export class SwarmKeyError extends P2PStartError {
  constructor(message: string) {
    super('ERR_P2P_SECRET', message);
  }
}

/** The 32-byte key of a swarm key file's text, or a SwarmKeyError saying what is wrong. */
export function parseSwarmKey(text: string): Uint8Array {
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines[0] !== HEADER) throw new SwarmKeyError(`the first line must be "${HEADER}", got "${shorten(lines[0] ?? '')}"`);
  if (lines[1] !== ENCODING) throw new SwarmKeyError(`the second line must be "${ENCODING}" (the only encoding supported), got "${shorten(lines[1] ?? '')}"`);
  const hex = lines[2] ?? '';
  if (lines.length > 3) throw new SwarmKeyError('the key file has more than three lines');
  if (!/^[0-9a-fA-F]*$/.test(hex)) throw new SwarmKeyError('the third line must be hex digits (0-9, a-f) only');
  if (hex.length !== 64) throw new SwarmKeyError(`the third line must be 64 hex digits (32 bytes), got ${hex.length}`);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** The key in the file's standard form, which @libp2p/pnet takes as its `psk`. */
export function swarmKeyFile(key: Uint8Array): Uint8Array {
  return new TextEncoder().encode(`${HEADER}\n${ENCODING}\n${Buffer.from(key).toString('hex')}`);
}

/** Reads and parses a swarm key file; every failure is a SwarmKeyError naming the file. */
export function readSwarmKey(file: string): Uint8Array {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new SwarmKeyError(`--p2p-secret: cannot read ${file}: ${(error as Error).message}; give the path of a swarm key file: ${SWARM_KEY_FORMAT}`);
  }
  try {
    return parseSwarmKey(text);
  } catch (error) {
    throw new SwarmKeyError(`--p2p-secret: ${file} is not a swarm key: ${(error as Error).message}; ${SWARM_KEY_FORMAT}`);
  }
}

function shorten(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
