import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_PAGE_BYTES } from './frames.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { readPage, readsBack, type PageQuery } from './query-page.ts';

function storeOf(count: number, size = 1): MemoryStore {
  const store = new MemoryStore({ nodeId: 'n' });
  store.append(Array.from({ length: count }, (_, i) => ({ channel: 'c', uid: 'u', binary: true, payload: Buffer.alloc(size, i) })));
  return store;
}

const page = (store: MemoryStore, query: Partial<PageQuery>) => {
  const { messages, last, next } = readPage(store, 'c', { after: undefined, before: undefined, limit: 10, ...query });
  return { seqs: messages.map((m) => m.seq), last, next };
};

test('a query reads back with desc, or with before and no after', () => {
  assert.equal(readsBack({ after: undefined, before: undefined }), false);
  assert.equal(readsBack({ after: 5, before: undefined }), false);
  assert.equal(readsBack({ after: 5, before: 50 }), false);
  assert.equal(readsBack({ after: undefined, before: 50 }), true);
  assert.equal(readsBack({ after: 5, before: undefined, desc: true }), true);
});

test('forward pages go on from their newest message', () => {
  const store = storeOf(25);
  assert.deepEqual(page(store, {}), { seqs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], last: false, next: 10 });
  assert.deepEqual(page(store, { after: 20 }), { seqs: [21, 22, 23, 24, 25], last: true, next: undefined });
  assert.deepEqual(page(store, { after: 10, before: 14 }), { seqs: [11, 12, 13], last: true, next: undefined });
});

test('before without after is the newest page below it, oldest first, going on from its oldest', () => {
  const store = storeOf(100);
  assert.deepEqual(page(store, { before: 100 }), { seqs: [90, 91, 92, 93, 94, 95, 96, 97, 98, 99], last: false, next: 90 });
  assert.deepEqual(page(store, { before: 5 }), { seqs: [1, 2, 3, 4], last: true, next: undefined });
  assert.deepEqual(page(store, { before: 11 }), { seqs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], last: true, next: undefined });
  assert.deepEqual(page(store, { before: 500, limit: 3 }), { seqs: [98, 99, 100], last: false, next: 98 });
  assert.deepEqual(page(store, { before: 1 }), { seqs: [], last: true, next: undefined });
  assert.deepEqual(page(store, { before: 100, desc: true, limit: 3 }), { seqs: [99, 98, 97], last: false, next: 97 });
});

test('walking back from the end gets every message once', () => {
  const store = storeOf(100);
  const seen: number[] = [];
  let before: number | undefined = 101;
  while (before !== undefined) {
    const { seqs, next } = page(store, { before, limit: 7 });
    seen.unshift(...seqs);
    before = next;
  }
  assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => i + 1));
});

test('a page stops at MAX_PAGE_BYTES, keeping the messages next to where it starts', () => {
  const size = MAX_PAGE_BYTES / 4 + 1; // three fit, four do not
  const store = storeOf(10, size);
  assert.deepEqual(page(store, {}), { seqs: [1, 2, 3], last: false, next: 3 });
  assert.deepEqual(page(store, { before: 11 }), { seqs: [8, 9, 10], last: false, next: 8 });
  const huge = new MemoryStore({ nodeId: 'n' });
  huge.append([{ channel: 'c', uid: 'u', binary: true, payload: Buffer.alloc(MAX_PAGE_BYTES + 1) }]);
  // The store stops reading at the large message, so the page cannot tell whether more
  // follow: it says to go on, and the next page is empty and last.
  assert.deepEqual(page(huge, { before: 2 }), { seqs: [1], last: false, next: 1 }, 'one larger message still comes alone');
  assert.deepEqual(page(huge, { before: 1 }), { seqs: [], last: true, next: undefined });
});
