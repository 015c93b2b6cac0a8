// @ts-check
// The page's Mles mode (?mode=mles): joins one Mles v2 channel over a WebSocket on this
// page's own host, shows the channel's history and live frames, sends messages and
// reconnects when the connection drops. Plain browser JavaScript, no build step.
//
// - the first frame is the Mles join header, a TEXT frame of JSON {"uid","channel"};
// - a chat message is a BINARY frame of UTF-8 JSON {"uid","channel","message"}.
//   Binary, because MlesTalk (the main Mles client) sends binary CBOR frames and treats
//   every text frame as a join header: a text message would show there as a bogus join.
// The node sends no echo, so our own messages are shown when sent. On every join it
// replays the channel's recent history, our own earlier frames included; after a
// reconnect, frames already on screen are recognised and not shown twice.

import { decodeFrame, describeClose, encodeChatMessage, explainClose, isRefusal } from './chat-frames.js';

/** @typedef {import('./chat-frames.js').ChatFrame} ChatFrame */
/** @typedef {import('./chat.js').ChatView} ChatView */

const SUBPROTOCOL = 'mles-websocket';
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;
/** A connection that lasted this long resets the backoff. */
const STABLE_MS = 10_000;
/** Frames remembered for recognising replays; comfortably above the node's history. */
const SEEN_LIMIT = 5000;
/** Quiet time after which a history replay is taken to be over. */
const REPLAY_QUIET_MS = 1500;
/**
 * Quiet time after the join (or the last replayed frame) after which the page marks
 * where live messages begin. Mles does not say where its replay ends; the node sends it
 * in one burst as it accepts the header, so a short pause is the end. A message said in
 * that moment shows above the marker, without a time.
 */
const LIVE_QUIET_MS = 300;
/** The same before the first frame: the node may take a moment to read the history. */
const LIVE_FIRST_MS = 1000;

/**
 * A short fingerprint of a frame for recognising it when history is replayed.
 * @param {string | ArrayBuffer | Uint8Array} data
 */
function frameKey(data) {
  if (typeof data === 'string') return `t${data}`;
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  // Two 32-bit FNV-1a style hashes with different seeds and the length: collisions
  // would only hide a duplicate frame, never corrupt anything.
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (const byte of bytes) {
    a = Math.imul(a ^ byte, 0x01000193);
    b = Math.imul(b ^ byte, 0x5bd1e995) ^ (b >>> 15);
  }
  return `b${bytes.length}:${(a >>> 0).toString(36)}:${(b >>> 0).toString(36)}`;
}

/** @param {ChatView} view */
export function mlesSession(view) {
  // ---- the frames this session has shown, counted, to skip them when replayed ----

  /** @type {Map<string, number>} */
  const seenCounts = new Map();
  /** @type {string[]} */
  const seenOrder = [];

  /** @param {string} key */
  function remember(key) {
    seenCounts.set(key, (seenCounts.get(key) ?? 0) + 1);
    seenOrder.push(key);
    if (seenOrder.length > SEEN_LIMIT) {
      const oldest = /** @type {string} */ (seenOrder.shift());
      const count = (seenCounts.get(oldest) ?? 1) - 1;
      if (count > 0) seenCounts.set(oldest, count);
      else seenCounts.delete(oldest);
    }
  }

  /**
   * @type {{
   *   ws: WebSocket | undefined,
   *   uid: string,
   *   channel: string,
   *   wanted: boolean,
   *   retries: number,
   *   retryTimer: ReturnType<typeof setTimeout> | undefined,
   *   openedAt: number,
   *   replay: Map<string, number> | undefined,
   *   replayTimer: ReturnType<typeof setTimeout> | undefined,
   *   marking: boolean,
   *   markedLive: boolean,
   *   liveTimer: ReturnType<typeof setTimeout> | undefined,
   *   outbox: { bytes: Uint8Array, item: HTMLLIElement }[],
   * }}
   */
  const session = {
    ws: undefined,
    uid: '',
    channel: '',
    /** Whether the user wants to be in the channel (false after Leave or a refusal). */
    wanted: false,
    retries: 0,
    retryTimer: undefined,
    openedAt: 0,
    /** Frames shown earlier that the node's history replay may repeat; undefined once it has passed. */
    replay: undefined,
    replayTimer: undefined,
    /** Until the history/live marker is shown (once per join). */
    marking: false,
    /**
     * Whether this connection showed the marker: every frame after it is live and has
     * its time, even while the replay is still watched for repeats.
     */
    markedLive: false,
    /** Shows the marker after LIVE_QUIET_MS without frames. */
    liveTimer: undefined,
    /** Messages typed while the connection was down, sent (in order) once it is back. */
    outbox: [],
  };

  /** @param {number} quietMs */
  function markLiveSoon(quietMs) {
    if (!session.marking) return;
    clearTimeout(session.liveTimer);
    session.liveTimer = setTimeout(showLiveMarker, quietMs);
  }

  function showLiveMarker() {
    stopLiveTimer();
    session.markedLive = true;
    view.markLive();
  }

  function stopLiveTimer() {
    session.marking = false;
    clearTimeout(session.liveTimer);
    session.liveTimer = undefined;
  }

  /** @param {WebSocket} ws @param {Uint8Array} bytes @param {HTMLLIElement} item */
  function sendNow(ws, bytes, item) {
    ws.send(bytes);
    remember(frameKey(bytes));
    view.delivered(item);
  }

  function socketUrl() {
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
  }

  // The replay arrives as one burst right after the join; once no repeat has come for a
  // moment, the frames still expected were trimmed from history, and a later frame that
  // happens to look the same (bob says "hi" again) is new.
  function endReplaySoon() {
    clearTimeout(session.replayTimer);
    session.replayTimer = setTimeout(endReplay, REPLAY_QUIET_MS);
  }

  function endReplay() {
    clearTimeout(session.replayTimer);
    session.replayTimer = undefined;
    session.replay = undefined;
  }

  function connect() {
    clearTimeout(session.retryTimer);
    session.retryTimer = undefined;
    const ws = new WebSocket(socketUrl(), SUBPROTOCOL);
    ws.binaryType = 'arraybuffer';
    session.ws = ws;
    session.markedLive = false;
    view.setStatus('connecting', `Connecting to #${session.channel}`);

    ws.addEventListener('open', () => {
      const header = JSON.stringify({ uid: session.uid, channel: session.channel });
      ws.send(header);
      // The replay holds what we saw before, plus our own earlier headers (the node
      // stores every join header but does not replay the current one to its sender).
      session.replay = new Map(seenCounts);
      endReplaySoon();
      remember(frameKey(header));
      session.openedAt = Date.now();
      view.setStatus('open', `Joined #${session.channel} as ${session.uid}`);
      view.setConnected(true);
      for (const { bytes, item } of session.outbox.splice(0)) sendNow(ws, bytes, item);
      markLiveSoon(LIVE_FIRST_MS);
    });

    ws.addEventListener('message', (event) => {
      if (ws !== session.ws) return;
      const data = /** @type {string | ArrayBuffer} */ (event.data);
      const key = frameKey(data);
      markLiveSoon(LIVE_QUIET_MS);
      const pending = session.replay?.get(key) ?? 0;
      if (pending > 0) {
        session.replay?.set(key, pending - 1);
        endReplaySoon();
        return;
      }
      // Not a repeat. (Replays hold frames new to us even among old ones: join headers are
      // only ever seen in a replay, never live.) Those have no known time.
      remember(key);
      view.show(decodeFrame(data), { untimed: !session.markedLive && (session.replay !== undefined || session.marking) });
    });

    ws.addEventListener('close', (event) => {
      if (ws !== session.ws) return;
      session.ws = undefined;
      endReplay();
      const detail = describeClose(event.code, event.reason);
      const text = explainClose(event.code, event.reason, session);
      if (!session.wanted) {
        view.setStatus('closed', `Left #${session.channel}`);
        return;
      }
      view.setConnected(false);
      if (isRefusal(event.code)) {
        session.wanted = false;
        stopLiveTimer();
        failOutbox('the node refused this name or channel');
        view.setJoined(false);
        view.setStatus('refused', text, detail);
        return;
      }
      if (session.openedAt > 0 && Date.now() - session.openedAt >= STABLE_MS) session.retries = 0;
      session.openedAt = 0;
      const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** session.retries) * (0.75 + Math.random() / 4);
      session.retries++;
      view.setStatus('retrying', `${text} Reconnecting in ${Math.ceil(delay / 1000)} s; messages typed meanwhile are sent then.`, detail);
      session.retryTimer = setTimeout(connect, delay);
    });
  }

  /** @param {string} why */
  function failOutbox(why) {
    for (const { item } of session.outbox.splice(0)) view.undelivered(item, why);
  }

  return {
    /** Another channel or name is another conversation: forget what was shown. */
    reset() {
      seenCounts.clear();
      seenOrder.length = 0;
    },

    /** @param {string} uid @param {string} channel */
    join(uid, channel) {
      session.uid = uid;
      session.channel = channel;
      session.wanted = true;
      session.retries = 0;
      session.outbox.length = 0;
      stopLiveTimer();
      session.marking = true;
      connect();
    },

    leave() {
      session.wanted = false;
      clearTimeout(session.retryTimer);
      session.retryTimer = undefined;
      stopLiveTimer();
      failOutbox('you left the channel');
      if (session.ws) session.ws.close(1000, 'left');
      else view.setStatus('closed', `Left #${session.channel}`);
    },

    /** @param {string} message */
    send(message) {
      if (!session.wanted) return false;
      // What we say comes after the history we were shown, however soon we say it.
      if (session.marking) showLiveMarker();
      const bytes = encodeChatMessage(session.uid, session.channel, message);
      const item = view.show({ kind: 'message', uid: session.uid, message });
      const ws = session.ws;
      if (ws && ws.readyState === WebSocket.OPEN) {
        sendNow(ws, bytes, item);
      } else {
        view.waiting(item, false);
        session.outbox.push({ bytes, item });
      }
      return true;
    },

    /** Retry now rather than after the backoff (the browser is back online, or the user asked). */
    retryNow() {
      if (session.wanted && session.retryTimer !== undefined) connect();
    },
  };
}
