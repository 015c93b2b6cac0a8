// @ts-check
// The node's default chat page: join one channel, see its history and live messages,
// send messages. Two modes share the page and its elements:
// - native (default): parley's own protocol through the client SDK (native-session.js),
//   with acknowledged sends and exact resume after a reconnect;
// - Mles (?mode=mles, or the Protocol menu): plain Mles v2 (mles-session.js), as any
//   Mles client speaks it.
// Both read and write the same chat messages (chat-frames.js), so a page in either mode
// talks with the other, with `parley chat`, and with MlesTalk-style clients.
//
// All peer text goes into the page through textContent, never as HTML.

import { mlesSession } from './mles-session.js';
import { nativeSession } from './native-session.js';

/** @typedef {import('./chat-frames.js').ChatFrame} ChatFrame */
/**
 * How a line is shown: `ts` is when it was said (ms since the epoch), when known; without
 * it a line shown after the history/live marker takes the time it arrived.
 * `untimed` marks a line whose time is not known (a replayed Mles frame).
 * @typedef {{ ts?: number, untimed?: boolean }} ShowOptions
 */
/**
 * What a mode may do to the page.
 * @typedef {{
 *   setStatus(state: 'idle' | 'connecting' | 'open' | 'retrying' | 'refused' | 'closed', text: string, detail?: string): void,
 *   setJoined(joined: boolean): void,
 *   setConnected(connected: boolean): void,
 *   show(frame: ChatFrame, options?: ShowOptions): HTMLLIElement,
 *   note(text: string): HTMLLIElement,
 *   waiting(item: HTMLLIElement, connected: boolean): void,
 *   delivered(item: HTMLLIElement): void,
 *   undelivered(item: HTMLLIElement, why: string): void,
 *   markLive(): void,
 *   setMembers(members: { uids: readonly string[], count: number } | undefined): void,
 *   joinedAs(): { uid: string, channel: string },
 * }} ChatView
 */
/**
 * A mode: how the page talks to the node.
 * @typedef {{
 *   reset(): void,
 *   join(uid: string, channel: string): void,
 *   leave(): void,
 *   send(message: string): boolean,
 *   retryNow(): void,
 * }} ChatSession
 */

const DEFAULT_CHANNEL = 'lobby';

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
  retry: element('retry', HTMLButtonElement),
  joinedAs: element('joined-as', HTMLElement),
  members: element('members', HTMLElement),
  joinForm: element('join-form', HTMLFormElement),
  uid: element('uid', HTMLInputElement),
  channel: element('channel', HTMLInputElement),
  mode: element('mode', HTMLSelectElement),
  join: element('join', HTMLButtonElement),
  leave: element('leave', HTMLButtonElement),
  messages: element('messages', HTMLUListElement),
  sendForm: element('send-form', HTMLFormElement),
  message: element('message', HTMLInputElement),
  send: element('send', HTMLButtonElement),
};

const state = {
  uid: '',
  channel: '',
  mode: '',
  /** Whether the user wants to be in the channel (false after Leave or a refusal). */
  joined: false,
  /** Whether this join's history/live marker is shown (lines after it are live). */
  live: false,
};

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayTimeFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

/** A <time> for `ts`: the time of day, with the date when it was not today. @param {number} ts */
function timeElement(ts) {
  const date = new Date(ts);
  const time = document.createElement('time');
  time.className = 'time';
  time.dateTime = date.toISOString();
  time.textContent = date.toDateString() === new Date().toDateString() ? timeFormat.format(date) : dayTimeFormat.format(date);
  time.title = fullFormat.format(date);
  return time;
}

// ---- the view the modes draw through ----

/** The words beside one of our messages that is not delivered yet, or not at all. @param {string} text */
function stateLabel(text) {
  const label = document.createElement('span');
  label.className = 'state';
  label.textContent = text;
  return label;
}

/** @param {HTMLLIElement} item */
function append(item, own = false) {
  const list = ui.messages;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(item);
  if (atBottom || own) list.scrollTop = list.scrollHeight;
  return item;
}

/** @type {ChatView} */
const view = {
  setStatus(status, text, detail) {
    ui.status.dataset.state = status;
    ui.status.textContent = text;
    if (detail === undefined) ui.status.removeAttribute('title');
    else ui.status.title = detail;
    ui.retry.hidden = status !== 'retrying';
  },

  setJoined(joined) {
    state.joined = joined;
    ui.uid.disabled = joined;
    ui.channel.disabled = joined;
    ui.mode.disabled = joined;
    ui.join.hidden = joined;
    ui.join.disabled = joined;
    ui.leave.hidden = !joined;
    // Once joined, the form shrinks to one line saying who and where, so a phone keeps
    // its screen for the conversation.
    ui.joinForm.classList.toggle('joined', joined);
    ui.joinedAs.hidden = !joined;
    ui.joinedAs.textContent = joined ? `${state.uid} in #${state.channel}${state.mode === 'mles' ? ' (Mles v2)' : ''}` : '';
    ui.message.disabled = !joined;
    ui.send.disabled = !joined;
    if (!joined) {
      ui.message.placeholder = 'Join a channel to chat';
      view.setMembers(undefined);
    }
  },

  setConnected(connected) {
    if (!state.joined) return;
    // While the node is away the box stays open: what is typed waits, shown as pending,
    // and goes out on reconnect.
    ui.message.placeholder = connected ? `Message #${state.channel}` : `Message #${state.channel} (offline: sent when reconnected)`;
    if (connected && (document.activeElement === ui.join || document.activeElement === document.body)) ui.message.focus();
  },

  show(frame, options = {}) {
    const item = document.createElement('li');
    const own = (frame.kind === 'message' || frame.kind === 'join') && frame.uid === state.uid;
    const ts = options.ts ?? (state.live && !options.untimed ? Date.now() : undefined);
    if (ts !== undefined) item.append(timeElement(ts), ' ');
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
      item.append(from, ': ', text);
    } else {
      item.className = 'event';
      let text;
      if (frame.kind === 'join') text = own ? `${frame.uid} (you) joined` : `${frame.uid} joined`;
      else if (frame.kind === 'left') text = `${frame.uid} left`;
      else if (frame.kind === 'text') text = `[text frame] ${frame.text}`;
      else text = `[binary frame, ${frame.bytes} bytes]`;
      item.append(text);
    }
    return append(item, own);
  },

  note(text) {
    const item = document.createElement('li');
    item.className = 'event note';
    item.textContent = text;
    return append(item);
  },

  /** Our message is on its way (dimmed); while offline it says it waits for the connection. */
  waiting(item, connected) {
    item.classList.add('pending');
    if (!connected && item.querySelector('.state') === null) item.append(stateLabel(' (waiting to send)'));
  },

  delivered(item) {
    item.classList.remove('pending');
    item.querySelector('.state')?.remove();
  },

  undelivered(item, why) {
    item.classList.remove('pending');
    item.classList.add('failed');
    (item.querySelector('.state') ?? item.appendChild(stateLabel(''))).textContent = ` (not delivered: ${why})`;
  },

  markLive() {
    if (state.live) return;
    state.live = true;
    const item = document.createElement('li');
    item.className = 'divider';
    item.setAttribute('role', 'separator');
    item.textContent = ui.messages.childElementCount > 0 ? 'Earlier messages above · new messages below' : `No earlier messages in #${state.channel}`;
    append(item);
  },

  setMembers(members) {
    ui.members.hidden = members === undefined;
    if (members === undefined) {
      ui.members.textContent = '';
      return;
    }
    const more = members.count - members.uids.length;
    ui.members.textContent = `${members.count} here: ${members.uids.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
  },

  joinedAs() {
    return { uid: state.uid, channel: state.channel };
  },
};

/** @type {Record<string, ChatSession>} */
const sessions = { native: nativeSession(view), mles: mlesSession(view) };

function session() {
  return sessions[state.mode] ?? sessions.native;
}

// ---- joining and leaving ----

function join() {
  const uid = ui.uid.value;
  const channel = ui.channel.value;
  const mode = ui.mode.value === 'mles' ? 'mles' : 'native';
  if (uid !== state.uid || channel !== state.channel || mode !== state.mode) {
    // Another channel, name or protocol is another conversation.
    ui.messages.replaceChildren();
    for (const each of Object.values(sessions)) each.reset();
  }
  state.uid = uid;
  state.channel = channel;
  state.mode = mode;
  state.live = false;
  try {
    // Per tab: a second tab is a second person ("two tabs, two names").
    sessionStorage.setItem('parley.uid', uid);
  } catch {
    // Storage may be disabled; remembering the name is only a convenience.
  }
  const params = new URLSearchParams(location.search);
  if (mode === 'mles') params.set('mode', 'mles');
  else params.delete('mode');
  const query = params.toString();
  history.replaceState(null, '', `${location.pathname}${query ? `?${query}` : ''}#${encodeURIComponent(channel)}`);
  view.setJoined(true);
  session().join(uid, channel);
}

function leave() {
  view.setJoined(false);
  ui.retry.hidden = true;
  session().leave();
  ui.join.focus();
}

function sendMessage() {
  const message = ui.message.value;
  if (message.trim() === '') return;
  if (session().send(message)) ui.message.value = '';
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
ui.mode.value = new URLSearchParams(location.search).get('mode') === 'mles' ? 'mles' : 'native';
try {
  ui.uid.value = sessionStorage.getItem('parley.uid') ?? '';
} catch {
  // No storage: the name field starts empty.
}

ui.joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!state.joined) join();
});
ui.leave.addEventListener('click', leave);
ui.sendForm.addEventListener('submit', (event) => {
  event.preventDefault();
  sendMessage();
});
addEventListener('hashchange', () => {
  if (!state.joined) ui.channel.value = channelFromUrl();
});
addEventListener('online', () => {
  if (state.joined) session().retryNow();
});
ui.retry.addEventListener('click', () => {
  if (state.joined) session().retryNow();
});

(ui.uid.value === '' ? ui.uid : ui.join).focus();
