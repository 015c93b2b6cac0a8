// @ts-check
// Chat message bytes as parley's chat clients read them, shared by the page's Mles and
// native modes. The same rules as src/cli/chat-format.ts (keep the two in step):
// - a chat message is UTF-8 JSON {"uid","channel","message"}, sent as BINARY;
// - text (Mles text frames, native messages with binary false) is a join header
//   {"uid","channel"} when it looks like one, else shown as text;
// - other bytes (e.g. MlesTalk's encrypted CBOR) show as "[binary frame, N bytes]".

const strictDecoder = new TextDecoder('utf-8', { fatal: true });
const lenientDecoder = new TextDecoder('utf-8');

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
 * @typedef {{ kind: 'join', uid: string }
 *   | { kind: 'left', uid: string }
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

/**
 * A received frame (Mles: text as a string, binary as an ArrayBuffer) or native payload.
 * @param {string | ArrayBuffer | Uint8Array} data
 * @returns {ChatFrame}
 */
export function decodeFrame(data) {
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

/** A native message's payload, read as the Mles mode reads its frame. @param {{ binary: boolean, payload: Uint8Array }} message */
export function decodePayload(message) {
  return decodeFrame(message.binary ? message.payload : lenientDecoder.decode(message.payload));
}

/** @param {number} code @param {string} reason */
export function describeClose(code, reason) {
  return `closed ${code}: ${reason || CLOSE_REASONS[code] || 'no reason given'}`;
}

/**
 * What a close means to a person, in words: what happened and, for a refusal, what to
 * do (a drop is retried by the page, which says so itself). The code and the node's
 * reason stay available through describeClose for the status line's tooltip.
 * @param {number} code @param {string} reason @param {{ uid: string, channel: string }} about
 */
export function explainClose(code, reason, about) {
  const name = `“${about.uid}”`;
  switch (code) {
    case 4409:
      return `The name ${name} is already in #${about.channel} (in another tab, device or Mles client). Choose another name and join again.`;
    case 4401:
      return `The node did not accept the key for ${name} in #${about.channel}: it requires a shared key, which this page cannot send. Use \`parley chat --key\` or ask the node's operator.`;
    case 4400:
      return `The node refused the name or channel${reason ? ` (${reason})` : ''}. Use letters, digits, spaces and ASCII punctuation, and join again.`;
    case 4408:
      return 'The node waited too long for this page to join. Join again.';
    case 4429:
      return 'The node is busy, or this address connected too often. Wait a minute, then join again.';
    case 1001:
      return 'The node went away (it is restarting or shutting down).';
    case 1006:
      return 'Lost the connection to the node.';
    case 1009:
      return 'A message was too large for the node and was not delivered; the node closed the connection.';
    case 1011:
      return 'The node ran into an internal error.';
    default:
      return `The connection to the node closed (${reason || CLOSE_REASONS[code] || `code ${code}`}).`;
  }
}

/** The node turned us away (44xx): the same header would be refused again. @param {number} code */
export function isRefusal(code) {
  return code >= 4400 && code <= 4499;
}

/** A chat message as the bytes we send. @param {string} uid @param {string} channel @param {string} message */
export function encodeChatMessage(uid, channel, message) {
  return new TextEncoder().encode(JSON.stringify({ uid, channel, message }));
}
