// Where the node's log lines go (a file descriptor, stdout by default), written so that
// the log can never stop the node: one asynchronous write at a time, lines that arrive
// meanwhile joined into the next one, and a bounded backlog (lines past it are dropped
// and counted). A write that fails (ENOSPC on a full disk, EPIPE, EIO) drops its lines
// and counts them; it is never thrown. A full non-blocking pipe (EAGAIN) is waited
// for a moment, with the backlog bounding what waits. pino's own destination emitted
// write errors with no listener: the process died.

import { write as fsWrite } from 'node:fs';

export type WriteFn = (fd: number, buffer: Buffer, callback: (error: NodeJS.ErrnoException | null, written: number) => void) => void;

export interface LogDestinationOptions {
  readonly fd: number;
  /** Bytes of lines waiting at most; lines that do not fit are dropped. */
  readonly maxBacklog?: number;
  /** Writes to the descriptor (fs.write); replaceable for tests. */
  readonly write?: WriteFn;
  /** Writes work again after some failed: `dropped` lines were lost, the last failure said `code`. */
  readonly onRecovered?: (dropped: number, code: string) => void;
}

export interface LogDrops {
  /** Lines lost because their write failed. */
  readonly writeFailed: number;
  /** Lines dropped because the backlog was full (writes too slow or stuck). */
  readonly backlogFull: number;
}

const DEFAULT_BACKLOG = 1024 * 1024;
/** How long a write waits before trying a full pipe again. */
const PIPE_FULL_RETRY_MS = 20;

function countLines(buffer: Buffer): number {
  let lines = 0;
  for (let at = buffer.indexOf(10); at !== -1; at = buffer.indexOf(10, at + 1)) lines++;
  return lines;
}

export class LogDestination {
  readonly #fd: number;
  readonly #maxBacklog: number;
  readonly #write: WriteFn;
  readonly #onRecovered: ((dropped: number, code: string) => void) | undefined;
  #backlog: string[] = [];
  #backlogBytes = 0;
  #writing = false;
  #writeFailed = 0;
  #backlogFull = 0;
  /** Lines lost since writes last worked, and the last failure's code. */
  #failing: { dropped: number; code: string } | undefined;
  #idle: Array<() => void> = [];

  constructor(options: LogDestinationOptions) {
    this.#fd = options.fd;
    this.#maxBacklog = options.maxBacklog ?? DEFAULT_BACKLOG;
    this.#write = options.write ?? ((fd, buffer, callback) => fsWrite(fd, buffer, 0, buffer.length, null, callback));
    this.#onRecovered = options.onRecovered;
  }

  /** Queues one line (pino passes each with its newline). Never throws, never blocks. */
  write(line: string): boolean {
    if (this.#backlogBytes + line.length > this.#maxBacklog) {
      this.#backlogFull++;
      return true;
    }
    this.#backlog.push(line);
    this.#backlogBytes += line.length;
    if (!this.#writing) this.#writeBacklog();
    return true;
  }

  get drops(): LogDrops {
    return { writeFailed: this.#writeFailed, backlogFull: this.#backlogFull };
  }

  /** Resolves once everything queued has been written (or dropped), or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<void> {
    if (!this.#writing) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #writeBacklog(): void {
    const buffer = Buffer.from(this.#backlog.join(''));
    this.#backlog = [];
    this.#backlogBytes = 0;
    this.#writing = true;
    this.#writeChunk(buffer);
  }

  #writeChunk(buffer: Buffer): void {
    try {
      this.#write(this.#fd, buffer, (error, written) => this.#written(buffer, error, written));
    } catch (error) {
      // A descriptor that is not valid any more throws at once rather than calling back.
      queueMicrotask(() => this.#written(buffer, error as NodeJS.ErrnoException, 0));
    }
  }

  #written(buffer: Buffer, error: NodeJS.ErrnoException | null, written: number): void {
    if (error === null && written < buffer.length) {
      if (written > 0) this.#recovered();
      this.#writeChunk(buffer.subarray(written)); // the rest, as the OS took only part
      return;
    }
    if (error?.code === 'EAGAIN') {
      setTimeout(() => this.#writeChunk(buffer), PIPE_FULL_RETRY_MS).unref();
      return;
    }
    if (error !== null) {
      const lost = Math.max(1, countLines(buffer));
      this.#writeFailed += lost;
      this.#failing = { dropped: (this.#failing?.dropped ?? 0) + lost, code: error.code ?? 'EIO' };
    } else {
      this.#recovered();
    }
    if (this.#backlog.length > 0) return this.#writeBacklog();
    this.#writing = false;
    for (const wake of this.#idle.splice(0)) wake();
  }

  #recovered(): void {
    const failing = this.#failing;
    if (failing === undefined) return;
    this.#failing = undefined;
    this.#onRecovered?.(failing.dropped, failing.code);
  }
}
