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
 * What a mode may do to the page.
 * @typedef {{
 *   setStatus(state: 'idle' | 'connecting' | 'open' | 'retrying' | 'refused' | 'closed', text: string): void,
 *   setJoined(joined: boolean): void,
 *   setCanSend(open: boolean): void,
 *   show(frame: ChatFrame): HTMLLIElement,
 * }} ChatView
 */
/**
 * A mode: how the page talks to the node.
 * @typedef {{
 *   reset(): void,
 *   join(uid: string, channel: string): void,
 *   leave(): void,
 *   send(message: string): boolean,
 *   online(): void,
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
};

// ---- the view the modes draw through ----

/** @type {ChatView} */
const view = {
  setStatus(status, text) {
    ui.status.dataset.state = status;
    ui.status.textContent = text;
  },

  setJoined(joined) {
    state.joined = joined;
    ui.uid.disabled = joined;
    ui.channel.disabled = joined;
    ui.mode.disabled = joined;
    ui.join.hidden = joined;
    ui.join.disabled = joined;
    ui.leave.hidden = !joined;
  },

  setCanSend(open) {
    ui.message.disabled = !open;
    ui.send.disabled = !open;
    ui.message.placeholder = open ? `Message #${state.channel}` : 'Join a channel to chat';
    if (open && (document.activeElement === ui.join || document.activeElement === document.body)) ui.message.focus();
  },

  show(frame) {
    const item = document.createElement('li');
    const own = (frame.kind === 'message' || frame.kind === 'join') && frame.uid === state.uid;
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
    return item;
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
  try {
    localStorage.setItem('parley.uid', uid);
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
  ui.uid.value = localStorage.getItem('parley.uid') ?? '';
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
  if (state.joined) session().online();
});

(ui.uid.value === '' ? ui.uid : ui.join).focus();
