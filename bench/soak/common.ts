// Small pieces every part of the soak uses: progress on stderr, MiB figures, and the
// payload tags that tie what a client sent or was handed to what the store holds.

import type { Frame } from '../../test/helpers/native-client.ts';
import type { Random } from '../../test/helpers/random.ts';

export function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

export function hex(bytes: unknown): string {
  return bytes instanceof Uint8Array ? Buffer.from(bytes).toString('hex') : '';
}

/** The tag a payload starts with (up to the first ';'): who sent it and its number. */
export function tagOf(payload: Uint8Array | string): string {
  const text = typeof payload === 'string' ? payload : Buffer.from(payload).toString('latin1', 0, Math.min(payload.length, 64));
  const end = text.indexOf(';');
  return end < 0 ? text : text.slice(0, end);
}

export function makePayload(tag: string, rng: Random): Buffer {
  return Buffer.concat([Buffer.from(`${tag};`), rng.bytes(16 + rng.int(496))]);
}

export const mib = (kib: number): string => (kib / 1024).toFixed(1);

export interface Received {
  readonly seq: number;
  readonly id: string;
  readonly tag: string;
}

/** A native `msg` frame as the checks compare it: its seq, id and tag. */
export function receivedOf(frame: Frame): Received {
  return { seq: Number(frame.seq), id: hex(frame.id), tag: tagOf(frame.p instanceof Uint8Array ? frame.p : '') };
}
