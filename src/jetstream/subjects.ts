// How channels map to JetStream subjects, and publishes to dedup ids. A channel name is
// printable ASCII (src/access/names.ts), which may hold `.`, `*`, `>` and spaces that a
// subject token cannot: the token is the name in base64url (RFC 4648 section 5, no
// padding), which uses only A-Z a-z 0-9 - _ and is never empty for a valid name.

import { createHash } from 'node:crypto';
import type { AppendRequest } from '../store/store.ts';

/** Subjects of a stream's channels: `STREAM.c.<base64url of the channel name>`. */
export function channelSubject(stream: string, channel: string): string {
  return `${stream}.c.${Buffer.from(channel, 'latin1').toString('base64url')}`;
}

/** The wildcard the stream is created over. */
export function streamSubjects(stream: string): string {
  return `${stream}.c.>`;
}

/** The channel a subject names, or undefined for a subject not made by `channelSubject`. */
export function channelOfSubject(stream: string, subject: string): string | undefined {
  const prefix = `${stream}.c.`;
  if (!subject.startsWith(prefix)) return undefined;
  const token = subject.slice(prefix.length);
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  return Buffer.from(token, 'base64url').toString('latin1');
}

/**
 * The `Nats-Msg-Id` JetStream deduplicates a publish by, within the stream's duplicate
 * window: a client's message id, so a retry through another node is stored once, and a
 * peer's message by its origin and origin seq, so every node of the cluster that
 * receives it from a peer stores it once. Undefined for a publish without either.
 */
export function dedupId(request: AppendRequest): string | undefined {
  const replica = request.replica;
  if (replica !== undefined) return digest(['r', request.channel, replica.origin, String(replica.originSeq)]);
  if (request.cid !== undefined) return digest(['c', request.channel, request.uid, request.cid]);
  return undefined;
}

/** The fields joined by NUL (which no name or cid holds), hashed to a short header value. */
function digest(fields: readonly string[]): string {
  return createHash('sha256').update(fields.join('\0')).digest('base64url');
}
