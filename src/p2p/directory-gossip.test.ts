import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import pino from 'pino';
import { nodeIdOf, type NodeIdentity } from '../identity/node-identity.ts';
import type { Store } from '../store/store.ts';
import { ANNOUNCEMENT_LIFETIME_MS, checkAnnouncement, type PublicChannel } from './directory.ts';
import { DirectoryGossip } from './directory-gossip.ts';

function identity(): NodeIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { nodeId: nodeIdOf(publicKey), privateKey, publicKey };
}

test('a withdrawal goes out at once and again with every round of announcements, the same each time, until listing it again or the hour is nearly over', () => {
  let now = 1_800_000_000_000;
  const sent: Uint8Array[] = [];
  let channels: PublicChannel[] = [];
  const gossip = new DirectoryGossip({
    transport: { subscribe: () => {}, unsubscribe: () => {}, publish: async (_topic, data) => void sent.push(data) },
    identity: identity(),
    store: { read: () => [] } as unknown as Store,
    channels: [],
    moreChannels: () => channels,
    log: pino({ level: 'silent' }),
    now: () => now,
  });
  try {
    const seen = () => sent.splice(0).map((data) => checkAnnouncement(data, now)).map((c) => (c.ok ? `${c.gone ? 'gone' : 'listed'} ${c.entry.channel} ${c.entry.announced}` : c.error));
    const at = now;
    gossip.withdraw('lobby');
    assert.deepEqual(seen(), [`gone lobby ${at}`]);
    now += 60_000;
    gossip.announce();
    assert.deepEqual(seen(), [`gone lobby ${at}`], 'repeated with its own time');
    now = at + ANNOUNCEMENT_LIFETIME_MS - 11 * 60_000;
    gossip.announce();
    assert.deepEqual(seen(), [`gone lobby ${at}`]);
    now = at + ANNOUNCEMENT_LIFETIME_MS - 9 * 60_000;
    gossip.announce();
    assert.deepEqual(seen(), [], 'not near the hour, when a node whose clock is ahead would refuse it');

    gossip.withdraw('news');
    sent.length = 0;
    channels = [{ channel: 'news', about: 'back' }];
    now += 1000; // listed again: announced a second later (announceSoon)
    gossip.announce();
    assert.deepEqual(seen(), [`listed news ${now}`], 'listed again: no more withdrawals');
    assert.deepEqual(gossip.list().map((e) => e.channel), ['news']);
  } finally {
    gossip.stop();
  }
});
