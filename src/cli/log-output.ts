// Where `parley serve` logs: JSON lines through pino's own asynchronous stream, made to
// go quiet when its output goes away instead of taking the node down with it. A node
// started from an ssh session loses its terminal when the connection drops, and from
// then on every write fails with EIO. pino's stream throws that from the next log line,
// and at exit retries any line it still holds forever. (pino goes quiet by itself on
// EPIPE, which is what a closed pipe gives.)

import { pino } from 'pino';

/** Errors that say the output is gone for good, not that one write failed. */
const GONE = new Set(['EIO', 'EPIPE']);

export class LogOutput {
  readonly stream: ReturnType<typeof pino.destination>;

  constructor(fd = 1) {
    this.stream = pino.destination(fd);
    this.stream.on('error', (error: NodeJS.ErrnoException) => {
      if (!GONE.has(error.code ?? '')) throw error;
      this.#silence();
    });
  }

  /** Drops every line from now on, and those held back. */
  #silence(): void {
    this.stream.write = () => true;
    this.stream.flush = () => {};
    this.stream.flushSync = () => {};
    this.stream.end = () => {};
  }
}
