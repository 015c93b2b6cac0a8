// Scrolling back through a channel's stored history: pages going back from a seq (or
// from the newest message) to the oldest one stored, each oldest first, the way a chat
// shows them above what it already has. Each page is a `desc` query (the newest
// `limit` messages below `before`) turned round; its `next` is the next page's `before`.

import { MAX_QUERY_LIMIT } from '../native/frames.ts';
import type { Page, QueryOptions, ScrollbackOptions } from './options.ts';

/** Throws a RangeError for options no node would take, before any page is asked for. */
export function checkScrollbackOptions(options: ScrollbackOptions): void {
  if (options.before !== undefined && (!Number.isSafeInteger(options.before) || options.before < 0)) {
    throw new RangeError('before must be a whole number >= 0');
  }
  if (options.limit !== undefined && (!Number.isSafeInteger(options.limit) || options.limit < 1 || options.limit > MAX_QUERY_LIMIT)) {
    throw new RangeError(`limit must be a whole number from 1 to ${MAX_QUERY_LIMIT}`);
  }
}

/**
 * The pages, newest page first, each oldest first; it ends after the page holding the
 * oldest stored message (an empty channel gives none). A query that fails (timeout,
 * abort, close) ends it with that error.
 */
export async function* scrollback(query: (options: QueryOptions) => Promise<Page>, options: ScrollbackOptions): AsyncGenerator<Page, void, undefined> {
  let before = options.before;
  for (;;) {
    const page = await query({ before, limit: options.limit, desc: true, timeoutMs: options.timeoutMs, signal: options.signal });
    if (page.messages.length === 0) return;
    yield { ...page, messages: [...page.messages].reverse() };
    if (page.last || page.next === undefined) return;
    before = page.next;
  }
}
