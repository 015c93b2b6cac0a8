// @ts-check
// The node's default chat page: joins one Mles v2 channel over a WebSocket on this
// page's own host, shows the channel's history and live messages, sends messages and
// reconnects when the connection drops. Plain browser JavaScript, no build step.
//
// Wire format (the same as `parley chat`, whose rules live in src/cli/chat-format.ts;
// keep the two in step):
// - the first frame is the Mles join header, a TEXT frame of JSON {"uid","channel"};
// - a chat message is a BINARY frame of UTF-8 JSON {"uid","channel","message"}.
//   Binary, because MlesTalk (the main Mles client) sends binary CBOR frames and treats
//   every text frame as a join header: a text message would show there as a bogus join.
// - received text frames are join headers replayed from history ("alice joined");
//   received binary frames that are not our JSON (e.g. MlesTalk's encrypted CBOR) show
//   as "[binary frame, N bytes]".
// The node sends no echo, so our own messages are shown when sent. On every join it
// replays the channel's recent history, our own earlier frames included; after a
// reconnect, frames already on screen are recognised and not shown twice.
//
// All peer text goes into the page through textContent, never as HTML.

const SUBPROTOCOL = 'mles-websocket';
const DEFAULT_CHANNEL = 'lobby';
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;
/** A connection that lasted this long resets the backoff. */
const STABLE_MS = 10_000;
/** Frames remembered for recognising replays; comfortably above the node's history. */
const SEEN_LIMIT = 5000;
/** Quiet time after which a history replay is taken to be over. */
const REPLAY_QUIET_MS = 1500;

/** Reasons for close codes whose close frame came without one. */
const CLOSE_REASONS = /** @type {Record<number, string>} */ ({
  1000: 'normal closure',
  1001: 'going away',
  1005: 'no status code',
  1006: 'connection lost',
  1009: 'frame too big',
  1011: 'server error',
  4400: 'bad header',
  4401: 'auth failed',
  4408: 'no header in time',
  4409: 'uid already joined to channel',
  4429: 'too slow or rate limited',
});

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
function element(id, type) {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`chat page is missing #${id}`);
  return found;
}

const ui = {
  status: element('status', HTMLElement),
  joinForm: element('join-form', HTMLFormElement),
  uid: element('uid', HTMLInputElement),
  channel: element('channel', HTMLInputElement),
  join: element('join', HTMLButtonElement),
  leave: element('leave', HTMLButtonElement),
  messages: element('messages', HTMLUListElement),
  sendForm: element('send-form', HTMLFormElement),
  message: element('message', HTMLInputElement),
  send: element('send', HTMLButtonElement),
};

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

// ---- frames: the same rules as src/cli/chat-format.ts ----

/**
 * @typedef {{ kind: 'join', uid: string }
 *   | { kind: 'message', uid: string, message: string }
 *   | { kind: 'text', text: string }
 *   | { kind: 'binary', bytes: number }} ChatFrame
 */

/** @param {string} text @returns {Record<string, unknown> | undefined} */
function parseJsonObject(text) {
  try {
    const value = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** @param {Record<string, unknown>} fields @returns {ChatFrame | undefined} */
function asMessage(fields) {
  if (typeof fields.message !== 'string') return undefined;
  const uid = typeof fields.uid === 'string' && fields.uid !== '' ? fields.uid : '?';
  return { kind: 'message', uid, message: fields.message };
}

/** @param {string | ArrayBuffer} data @returns {ChatFrame} */
function decodeFrame(data) {
  if (typeof data === 'string') {
    const fields = parseJsonObject(data);
    if (fields === undefined) return { kind: 'text', text: data };
    const message = asMessage(fields);
    if (message !== undefined) return message;
    if (typeof fields.uid === 'string' && fields.uid !== '') return { kind: 'join', uid: fields.uid };
    return { kind: 'text', text: data };
  }
  let text;
  try {
    text = strictDecoder.decode(data);
  } catch {
    return { kind: 'binary', bytes: data.byteLength };
  }
  const fields = parseJsonObject(text);
  return (fields && asMessage(fields)) ?? { kind: 'binary', bytes: data.byteLength };
}

/** @param {number} code @param {string} reason */
function describeClose(code, reason) {
  return `closed ${code}: ${reason || CLOSE_REASONS[code] || 'no reason given'}`;
}

/** The node turned us away (44xx): the same header would be refused again. @param {number} code */
function isRefusal(code) {
  return code >= 4400 && code <= 4499;
}

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

function forgetAll() {
  seenCounts.clear();
  seenOrder.length = 0;
}

// ---- connection ----

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
};

/** @param {'idle' | 'connecting' | 'open' | 'retrying' | 'refused' | 'closed'} state @param {string} text */
function setStatus(state, text) {
  ui.status.dataset.state = state;
  ui.status.textContent = text;
}

/** @param {boolean} joined */
function setJoined(joined) {
  ui.uid.disabled = joined;
  ui.channel.disabled = joined;
  ui.join.hidden = joined;
  ui.join.disabled = joined;
  ui.leave.hidden = !joined;
}

/** @param {boolean} open */
function setCanSend(open) {
  ui.message.disabled = !open;
  ui.send.disabled = !open;
  ui.message.placeholder = open ? `Message #${session.channel}` : 'Join a channel to chat';
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
  setStatus('connecting', `Connecting to #${session.channel}…`);

  ws.addEventListener('open', () => {
    const header = JSON.stringify({ uid: session.uid, channel: session.channel });
    ws.send(header);
    // The replay holds what we saw before, plus our own earlier headers (the node
    // stores every join header but does not replay the current one to its sender).
    session.replay = new Map(seenCounts);
    endReplaySoon();
    remember(frameKey(header));
    session.openedAt = Date.now();
    setStatus('open', `Joined #${session.channel} as ${session.uid}`);
    setCanSend(true);
    if (document.activeElement === ui.join || document.activeElement === document.body) ui.message.focus();
  });

  ws.addEventListener('message', (event) => {
    if (ws !== session.ws) return;
    const data = /** @type {string | ArrayBuffer} */ (event.data);
    const key = frameKey(data);
    const pending = session.replay?.get(key) ?? 0;
    if (pending > 0) {
      session.replay?.set(key, pending - 1);
      endReplaySoon();
      return;
    }
    // Not a repeat. (Replays hold frames new to us even among old ones: join headers are
    // only ever seen in a replay, never live.)
    remember(key);
    show(decodeFrame(data));
  });

  ws.addEventListener('close', (event) => {
    if (ws !== session.ws) return;
    session.ws = undefined;
    endReplay();
    setCanSend(false);
    const text = describeClose(event.code, event.reason);
    if (!session.wanted) {
      setStatus('closed', `Left #${session.channel}`);
      return;
    }
    if (isRefusal(event.code)) {
      session.wanted = false;
      setJoined(false);
      setStatus('refused', text);
      return;
    }
    if (session.openedAt > 0 && Date.now() - session.openedAt >= STABLE_MS) session.retries = 0;
    session.openedAt = 0;
    const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** session.retries) * (0.75 + Math.random() / 4);
    session.retries++;
    setStatus('retrying', `${text}; reconnecting in ${Math.ceil(delay / 1000)} s…`);
    session.retryTimer = setTimeout(connect, delay);
  });
}

function join() {
  const uid = ui.uid.value;
  const channel = ui.channel.value;
  if (uid !== session.uid || channel !== session.channel) {
    // Another channel or name is another conversation.
    ui.messages.replaceChildren();
    forgetAll();
  }
  session.uid = uid;
  session.channel = channel;
  session.wanted = true;
  session.retries = 0;
  try {
    localStorage.setItem('parley.uid', uid);
  } catch {
    // Storage may be disabled; remembering the name is only a convenience.
  }
  history.replaceState(null, '', `${location.pathname}${location.search}#${encodeURIComponent(channel)}`);
  setJoined(true);
  connect();
}

function leave() {
  session.wanted = false;
  clearTimeout(session.retryTimer);
  session.retryTimer = undefined;
  setJoined(false);
  setCanSend(false);
  if (session.ws) session.ws.close(1000, 'left');
  else setStatus('closed', `Left #${session.channel}`);
  ui.join.focus();
}

function sendMessage() {
  const ws = session.ws;
  const message = ui.message.value;
  if (!ws || ws.readyState !== WebSocket.OPEN || message.trim() === '') return;
  const bytes = encoder.encode(JSON.stringify({ uid: session.uid, channel: session.channel, message }));
  ws.send(bytes);
  remember(frameKey(bytes));
  show({ kind: 'message', uid: session.uid, message });
  ui.message.value = '';
}

// ---- rendering: textContent only ----

/** @param {ChatFrame} frame */
function show(frame) {
  const item = document.createElement('li');
  const own = (frame.kind === 'message' || frame.kind === 'join') && frame.uid === session.uid;
  if (frame.kind === 'message') {
    item.className = own ? 'message own' : 'message';
    const from = document.createElement('span');
    from.className = 'from';
    from.textContent = frame.uid;
    if (own) {
      const you = document.createElement('span');
      you.className = 'visually-hidden';
      you.textContent = ' (you)';
      from.append(you);
    }
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = frame.message;
    item.append(from, document.createTextNode(': '), text);
  } else {
    item.className = 'event';
    if (frame.kind === 'join') item.textContent = own ? `${frame.uid} (you) joined` : `${frame.uid} joined`;
    else if (frame.kind === 'text') item.textContent = `[text frame] ${frame.text}`;
    else item.textContent = `[binary frame, ${frame.bytes} bytes]`;
  }
  const list = ui.messages;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(item);
  if (atBottom || own) list.scrollTop = list.scrollHeight;
}

// ---- wiring ----

function channelFromUrl() {
  const query = new URLSearchParams(location.search).get('channel');
  if (location.hash.length > 1) {
    try {
      return decodeURIComponent(location.hash.slice(1));
    } catch {
      return location.hash.slice(1);
    }
  }
  return query || DEFAULT_CHANNEL;
}

ui.channel.value = channelFromUrl();
try {
  ui.uid.value = localStorage.getItem('parley.uid') ?? '';
} catch {
  // No storage: the name field starts empty.
}

ui.joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!session.wanted) join();
});
ui.leave.addEventListener('click', leave);
ui.sendForm.addEventListener('submit', (event) => {
  event.preventDefault();
  sendMessage();
});
addEventListener('hashchange', () => {
  if (!session.wanted) ui.channel.value = channelFromUrl();
});
addEventListener('online', () => {
  if (session.wanted && session.retryTimer !== undefined) connect();
});

(ui.uid.value === '' ? ui.uid : ui.join).focus();
