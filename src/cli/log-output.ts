// Where `parley serve` logs: JSON lines through pino's own asynchronous stream, made to
// go quiet when its output goes away instead of taking the node down with it. A node
// started from an ssh session loses its terminal when the connection drops: it gets
// SIGHUP, and from then on every write fails with EIO. pino's stream throws that from
// the next log line, and at exit retries any line it still holds forever, so a node told
// to stop by the hangup would never finish. (pino goes quiet by itself on EPIPE, which is
// what a closed pipe gives.)

import { isatty } from 'node:tty';
import { pino } from 'pino';

/** Whether a write error says the output is gone for good, not that one write failed. */
export function outputGone(error: NodeJS.ErrnoException): boolean {
  return error.code === 'EIO' || error.code === 'EPIPE';
}

export class LogOutput {
  readonly stream: ReturnType<typeof pino.destination>;
  readonly #fd: number;
  readonly #onTerminal: boolean;

  constructor(fd = 1) {
    this.#fd = fd;
    this.stream = pino.destination(fd);
    this.#onTerminal = isatty(fd);
    this.stream.on('error', (error: NodeJS.ErrnoException) => {
      if (!outputGone(error)) throw error;
      this.#silence();
    });
  }

  /**
   * On SIGHUP: if the terminal this logs to hung up, stop writing now. A write already
   * under way fails later, or never reports (when the node exits first), and what it
   * holds must not be retried at exit. A hung-up terminal no longer counts as one.
   */
  hangup(): void {
    if (this.#onTerminal && !isatty(this.#fd)) this.#silence();
  }

  /** Drops every line from now on, and those held back. */
  #silence(): void {
    this.stream.write = () => true;
    this.stream.flush = () => {};
    this.stream.flushSync = () => {};
    this.stream.end = () => {};
  }
}
