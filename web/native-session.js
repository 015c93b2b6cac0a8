// @ts-check
// The page's native mode (the default): the parley client SDK, bundled for browsers into
// ./dist/parley-client.js by `npm run build:web` (src/client/). One subscription to the
// channel, starting with its newest stored messages; the SDK reconnects by itself and
// resumes after the last message shown, so nothing is shown twice or skipped, and
// every message sent is acknowledged by the node (stored once, even when re-sent after a
// reconnect). Our own messages are shown at once, dimmed until the node's ack; their
// echo from the subscription is recognised and not shown again.

import { decodePayload, describeClose, encodeChatMessage } from './chat-frames.js';

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

  /** @param {string} text */
  function refuse(text) {
    wanted = false;
    view.setJoined(false);
    view.setCanSend(false);
    view.setStatus('refused', text);
  }

  /** @param {{ from: string, binary: boolean, payload: Uint8Array }} message */
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
    view.show(decodePayload(message));
  }

  /** @param {string} joinUid @param {string} joinChannel */
  async function join(joinUid, joinChannel) {
    uid = joinUid;
    channel = joinChannel;
    wanted = true;
    const mine = ++generation;
    view.setStatus('connecting', `Connecting to #${channel}…`);
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
      if (current()) view.setStatus('connecting', `Joining #${channel}…`);
    });
    own.on('disconnected', (/** @type {{ code: number, reason: string, reconnectInMs: number | undefined }} */ event) => {
      if (!current()) return;
      view.setCanSend(false);
      if (event.reconnectInMs !== undefined) {
        view.setStatus('retrying', `${describeClose(event.code, event.reason)}; reconnecting in ${Math.ceil(event.reconnectInMs / 1000)} s…`);
      }
    });
    own.on('error', (/** @type {Error & { code: string }} */ error) => {
      if (!current()) return;
      if (error.code === 'REFUSED') refuse(error.message);
      else console.warn('parley:', error.code, error.message);
    });

    const subscription = own.subscribe(channel, { from: { last: HISTORY }, onGap: 'skip', onUnknownCursor: 'restart' });
    subscription.on('message', received);
    subscription.on('live', () => {
      if (!current()) return;
      view.setStatus('open', `Joined #${channel} as ${uid}`);
      view.setCanSend(true);
    });
    subscription.on('gap', (/** @type {{ after: number, first: number }} */ gap) => {
      view.show({ kind: 'text', text: `${gap.first - gap.after - 1} older message(s) were removed by the node before we got them` });
    });
    subscription.on('error', (/** @type {Error} */ error) => {
      if (current()) refuse(error.message);
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
      view.setCanSend(false);
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
      item.classList.add('pending');
      client.publish(channel, bytes).then(
        () => item.classList.remove('pending'),
        (/** @type {Error} */ error) => {
          const count = unechoed.get(key) ?? 0;
          if (count <= 1) unechoed.delete(key);
          else unechoed.set(key, count - 1);
          item.classList.remove('pending');
          item.classList.add('failed');
          item.title = `Not delivered: ${error.message}`;
        },
      );
      return true;
    },

    /** The browser is back online: reconnect now rather than after the backoff. */
    online() {
      if (wanted && client !== undefined && client.state === 'reconnecting') client.connect().catch(() => {});
    },
  };
}
