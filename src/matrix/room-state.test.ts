import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { test } from 'node:test';
import { encodeEvent, eventIdOf, type JsonObject, type RoomEvent } from './events.ts';
import { RoomState } from './room-state.ts';

const ROOM = '!room:a.test';
const ALICE = '@alice:a.test';
const BOB = '@bob:b.test';
const EVE = '@eve:b.test';

/** Builds a room's events as a node would: each one deeper than the one before. */
class Script {
  readonly events: RoomEvent[] = [];
  #depth = 0;
  #ts = 1000;

  add(type: string, sender: string, content: JsonObject, stateKey?: string, depth?: number): RoomEvent {
    const stored = { type, room_id: ROOM, sender, content, origin_server_ts: this.#ts++, depth: depth ?? ++this.#depth, ...(stateKey === undefined ? {} : { state_key: stateKey }) };
    const event = { ...stored, event_id: eventIdOf(encodeEvent(stored)) };
    this.events.push(event);
    return event;
  }

  member(sender: string, target: string, membership: string): RoomEvent {
    return this.add('m.room.member', sender, { membership }, target);
  }
}

function basicRoom(): Script {
  const script = new Script();
  script.add('m.room.create', ALICE, { creator: ALICE }, '');
  script.member(ALICE, ALICE, 'join');
  script.add('m.room.power_levels', ALICE, { users: { [ALICE]: 100 }, users_default: 0, state_default: 50, events_default: 0, invite: 0, kick: 50, ban: 50, redact: 50 }, '');
  script.add('m.room.join_rules', ALICE, { join_rule: 'invite' }, '');
  return script;
}

function stateOf(room: RoomState): string {
  return [...room.state()].map((e) => e.event_id).sort().join();
}

test('membership: invite then join; no join without an invite in an invite-only room', () => {
  const script = basicRoom();
  const early = script.member(EVE, EVE, 'join');
  script.member(ALICE, BOB, 'invite');
  script.member(BOB, BOB, 'join');
  const room = new RoomState(ROOM);
  for (const event of script.events) room.add(event);
  assert.equal(room.membership(BOB), 'join');
  assert.equal(room.membership(EVE), undefined);
  assert.equal(room.accepted(early.event_id), undefined, 'the uninvited join is rejected');
  assert.equal(room.events().length, script.events.length - 1);
});

test('power levels: state needs state_default, kicks and bans need the level and a higher one than the target', () => {
  const script = basicRoom();
  script.member(ALICE, BOB, 'invite');
  script.member(BOB, BOB, 'join');
  const room = new RoomState(ROOM);
  for (const event of script.events) room.add(event);
  const draft = (type: string, sender: string, content: JsonObject, stateKey?: string) => ({ type, room_id: ROOM, sender, content, ...(stateKey === undefined ? {} : { state_key: stateKey }) });
  assert.match(room.refusal(draft('m.room.name', BOB, { name: 'x' }, ''))!, /needs power level 50/);
  assert.equal(room.refusal(draft('m.room.message', BOB, { body: 'x' })), undefined);
  assert.match(room.refusal(draft('m.room.member', BOB, { membership: 'leave' }, ALICE))!, /kicking needs power level 50/);
  assert.match(room.refusal(draft('m.room.member', BOB, { membership: 'ban' }, ALICE))!, /banning needs/);
  assert.equal(room.refusal(draft('m.room.member', ALICE, { membership: 'ban' }, BOB)), undefined);
  assert.match(room.refusal(draft('m.room.power_levels', BOB, { users: { [BOB]: 100 } }, ''))!, /needs power level/);
  assert.match(room.refusal(draft('m.room.message', EVE, { body: 'x' }))!, /not in the room/);
  assert.match(room.refusal(draft('m.room.create', ALICE, {}, ''))!, /exists/);
  assert.match(room.refusal(draft('m.room.member', ALICE, { membership: 'knock' }, BOB))!, /not supported/);
});

test('a banned user cannot rejoin; redaction needs the level unless it is one\'s own event', () => {
  const script = basicRoom();
  script.member(ALICE, BOB, 'invite');
  script.member(BOB, BOB, 'join');
  const message = script.add('m.room.message', ALICE, { body: 'secret' });
  const ownRedaction = script.add('m.room.redaction', BOB, { redacts: message.event_id });
  script.member(ALICE, BOB, 'ban');
  const rejoin = script.member(BOB, BOB, 'join');
  const room = new RoomState(ROOM);
  for (const event of script.events) room.add(event);
  assert.equal(room.accepted(ownRedaction.event_id), undefined, 'bob may not redact alice\'s event');
  assert.equal(room.redactedBy(message.event_id), undefined);
  assert.equal(room.accepted(rejoin.event_id), undefined);
  assert.equal(room.membership(BOB), 'ban');
});

test('the same events in any arrival order give the same state, order and rejections', (t) => {
  // Two nodes' concurrent events: same depths, different senders and clocks.
  const script = basicRoom();
  script.member(ALICE, BOB, 'invite');
  script.member(BOB, BOB, 'join');
  script.add('m.room.power_levels', ALICE, { users: { [ALICE]: 100, [BOB]: 50 }, users_default: 0, state_default: 50 }, '');
  const depth = script.events.length + 1;
  script.add('m.room.name', ALICE, { name: 'from A' }, '', depth);
  script.add('m.room.name', BOB, { name: 'from B' }, '', depth);
  script.add('m.room.power_levels', ALICE, { users: { [ALICE]: 100 }, users_default: 0, state_default: 50 }, '', depth);
  for (let i = 0; i < 5; i++) script.add('m.room.message', i % 2 === 0 ? ALICE : BOB, { body: String(i) }, undefined, depth + 1 + i);
  const reference = new RoomState(ROOM);
  for (const event of script.events) reference.add(event);
  const seed = randomInt(2 ** 31);
  t.diagnostic(`shuffle seed ${seed}`);
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31);
  for (let round = 0; round < 20; round++) {
    const shuffled = [...script.events];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = next() % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const room = new RoomState(ROOM);
    for (const event of shuffled) room.add(event);
    for (const event of shuffled) assert.equal(room.add(event), false, 'an event held already is not added twice');
    assert.equal(stateOf(room), stateOf(reference), `seed ${seed} round ${round}`);
    assert.deepEqual(room.events().map((e) => e.event_id), reference.events().map((e) => e.event_id));
  }
});
