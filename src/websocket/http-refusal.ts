// Answers a refused upgrade on the raw socket: ws has not taken it over yet, so this
// is a plain HTTP/1.1 response, with the reason in the body for humans and tools.

import type { Duplex } from 'node:stream';
import { HTTP_REFUSALS, type HttpRefusalCode } from './refusals.ts';

/** The status line's words for each status a refusal uses (the type makes a new one add its own). */
const STATUS_TEXT: Record<(typeof HTTP_REFUSALS)[HttpRefusalCode]['status'], string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
};

export function refuseUpgrade(socket: Duplex, code: HttpRefusalCode, detail?: string): void {
  const { status, reason } = HTTP_REFUSALS[code];
  const body = (detail === undefined ? reason : `${reason}: ${detail}`) + '\n';
  const extra =
    code === 'BAD_VERSION'
      ? 'Sec-WebSocket-Version: 13\r\n'
      : code === 'NO_SUBPROTOCOL'
        ? 'Upgrade: websocket\r\nSec-WebSocket-Protocol: mles-websocket\r\n'
        : '';
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      extra +
      '\r\n' +
      body,
  );
}
