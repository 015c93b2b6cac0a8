// @ts-check
// The page's native mode (the default): the parley client SDK, bundled for browsers into
// ./dist/parley-client.js by `npm run build:web` (src/client/). One subscription to the
// channel, starting with its newest stored messages; the SDK reconnects by itself and
// resumes after the last message shown, so nothing is shown twice or skipped, and
// every message sent is acknowledged by the node (stored once, even when re-sent after a
// reconnect). Our own messages are shown at once, dimmed until the node's ack; their
// echo from the subscription is recognised and not shown again.

import { decodePayload, describeClose, encodeChatMessage, explainClose } from './chat-frames.js';

/** @typedef {import('./chat.js').ChatView} ChatView */

const SDK_URL = './dist/parley-client.js';
/** Stored messages shown on joining, as many as the Mles mode's history by default. */
const HISTORY = 200;

/** @type {Promise<any> | undefined} */
let sdk;

const lenientDecoder = new TextDecoder('utf-8');

/** @param {ChatView} view */
export function nativeSession(view) {
  /** @type {any} */
  let client;
  /** Cursors kept across Leave and Join of the same conversation: a rejoin shows only what is new. */
  /** @type {any} */
  let cursors;
  let uid = '';
  let channel = '';
  let wanted = false;
  /** Bumped by every join and leave, so late callbacks of an older client do nothing. */
  let generation = 0;
  /** Our sent messages whose echo has not come back, by payload. @type {Map<string, number>} */
  const unechoed = new Map();

  /** @param {Uint8Array} payload */
  const keyOf = (payload) => lenientDecoder.decode(payload);

  function socketUrl() {
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
  }

  /** @param {string} text @param {string} [detail] */
  function refuse(text, detail) {
    wanted = false;
    view.setJoined(false);
    view.setStatus('refused', text, detail);
  }

  /**
   * A subscription the node ended, in words. @param {Error & { code?: string }} error
   * @returns {string}
   */
  function explainSubscriptionError(error) {
    switch (error.code) {
      case 'AUTH_FAILED':
        return `The node requires a shared key for #${channel}, which this page cannot send. Use \`parley chat --key\` or ask the node's operator.`;
      case 'STORE_FAILED':
        return `The node could not read #${channel} from its store (${error.message}). Try joining again in a moment.`;
      default:
        return `The node stopped sending #${channel} (${error.message}). Join again.`;
    }
  }

  /** @param {{ from: string, binary: boolean, payload: Uint8Array, ts: number }} message */
  function received(message) {
    if (message.from === uid && message.binary) {
      const key = keyOf(message.payload);
      const count = unechoed.get(key) ?? 0;
      if (count > 0) {
        if (count === 1) unechoed.delete(key);
        else unechoed.set(key, count - 1);
        return;
      }
    }
    view.show(decodePayload(message), { ts: message.ts });
  }

  /** @param {string} joinUid @param {string} joinChannel */
  async function join(joinUid, joinChannel) {
    uid = joinUid;
    channel = joinChannel;
    wanted = true;
    const mine = ++generation;
    view.setStatus('connecting', `Connecting to #${channel}`);
    let module;
    try {
      module = await (sdk ??= import(SDK_URL));
    } catch {
      sdk = undefined;
      if (mine === generation) refuse('The native client is not built (npm run build:web); the Mles mode works without it: ?mode=mles');
      return;
    }
    if (mine !== generation) return;
    cursors ??= new module.MemoryCursorStore();
    const own = new module.ParleyClient({ url: socketUrl(), uid, cursors, retryFirstConnect: true });
    client = own;
    const current = () => own === client && mine === generation;

    own.on('connected', () => {
      if (current()) view.setStatus('connecting', `Joining #${channel}`);
    });
    own.on('disconnected', (/** @type {{ code: number, reason: string, reconnectInMs: number | undefined }} */ event) => {
      if (!current()) return;
      view.setConnected(false);
      if (event.reconnectInMs !== undefined) {
        const text = explainClose(event.code, event.reason, { uid, channel });
        view.setStatus(
          'retrying',
          `${text} Reconnecting in ${Math.ceil(event.reconnectInMs / 1000)} s; messages typed meanwhile are sent then.`,
          describeClose(event.code, event.reason),
        );
      }
    });
    own.on('error', (/** @type {Error & { code: string, closeCode?: number }} */ error) => {
      if (!current()) return;
      if (error.code === 'REFUSED') {
        refuse(error.closeCode === undefined ? `The node refused the connection (${error.message}). Join again.` : explainClose(error.closeCode, '', { uid, channel }), error.message);
      } else {
        console.warn('parley:', error.code, error.message);
      }
    });

    const subscription = own.subscribe(channel, { from: { last: HISTORY }, onGap: 'skip', onUnknownCursor: 'restart', presence: true });
    subscription.on('message', received);
    subscription.on('live', () => {
      if (!current()) return;
      view.setStatus('open', `Joined #${channel} as ${uid}`);
      view.setConnected(true);
      view.markLive();
    });
    let toldElsewhere = false;
    /** Who is here, as the node last said, kept up to date by presence changes. */
    let here = new Set();
    let hereCount = 0;
    /**
     * Who was here when the connection dropped: after a node restart everyone comes back
     * one by one, and those arrivals are not news. They are announced again only after
     * they are seen leaving.
     */
    let returning = new Set();
    own.on('disconnected', () => {
      if (current()) returning = new Set([...returning, ...here]);
    });
    subscription.on('members', (/** @type {{ uids: string[], count: number, elsewhere: boolean }} */ members) => {
      if (!current()) return;
      here = new Set(members.uids);
      hereCount = members.count;
      for (const back of members.uids) returning.delete(back);
      view.setMembers(members);
      // Native connections may share a name (several tabs or devices of one person);
      // Mles refuses that. Said once, so nobody is surprised to find their words twice.
      if (members.elsewhere && !toldElsewhere) {
        toldElsewhere = true;
        view.note(`The name “${uid}” is also in #${channel} from another tab or device: what either sends shows as ${uid}'s. To talk as someone else, leave and join with another name.`);
      }
    });
    subscription.on('presence', (/** @type {{ uid: string, here: boolean }} */ change) => {
      if (!current()) return;
      const quiet = change.here && returning.has(change.uid);
      returning.delete(change.uid);
      if (!quiet) view.show(change.here ? { kind: 'join', uid: change.uid } : { kind: 'left', uid: change.uid });
      hereCount += change.here ? 1 : -1;
      if (change.here) here.add(change.uid);
      else here.delete(change.uid);
      view.setMembers({ uids: [...here].sort(), count: Math.max(hereCount, here.size) });
    });
    subscription.on('gap', (/** @type {{ after: number, first: number }} */ gap) => {
      view.note(`${gap.first - gap.after - 1} older message(s) were removed by the node before this page got them.`);
    });
    subscription.on('error', (/** @type {Error & { code?: string }} */ error) => {
      if (current()) refuse(explainSubscriptionError(error), error.message);
    });
    own.connect().catch(() => {
      // Reported through the events above.
    });
  }

  return {
    /** Another channel or name is another conversation: start from its history again. */
    reset() {
      cursors = undefined;
      unechoed.clear();
    },

    /** @param {string} joinUid @param {string} joinChannel */
    join(joinUid, joinChannel) {
      void join(joinUid, joinChannel);
    },

    leave() {
      wanted = false;
      generation++;
      const closing = client;
      client = undefined;
      if (closing === undefined) {
        view.setStatus('closed', `Left #${channel}`);
        return;
      }
      void closing.close().finally(() => {
        if (!wanted) view.setStatus('closed', `Left #${channel}`);
      });
    },

    /** @param {string} message */
    send(message) {
      if (client === undefined || !wanted) return false;
      const bytes = encodeChatMessage(uid, channel, message);
      const key = keyOf(bytes);
      unechoed.set(key, (unechoed.get(key) ?? 0) + 1);
      const item = view.show({ kind: 'message', uid, message });
      view.waiting(item, client.state === 'connected');
      // No timeout: while the node is away the message waits in the client's outbox and
      // is sent (once, by its cid) on reconnect.
      client.publish(channel, bytes, { timeoutMs: 0 }).then(
        () => view.delivered(item),
        (/** @type {Error} */ error) => {
          const count = unechoed.get(key) ?? 0;
          if (count <= 1) unechoed.delete(key);
          else unechoed.set(key, count - 1);
          view.undelivered(item, error.message);
        },
      );
      return true;
    },

    /** Reconnect now rather than after the backoff (the browser is back online, or the user asked). */
    retryNow() {
      if (wanted && client !== undefined && client.state === 'reconnecting') client.connect().catch(() => {});
    },
  };
}
