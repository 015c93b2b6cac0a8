// Requests that are answered by their request id (qid) and are safe to send twice: a
// history query (a read) or a directory listing (idempotent). Each waits for its answer;
// one lost with its connection is simply sent again once the client reconnects.

import type { ClientFrame } from '../native/frames.ts';
import type { Connection } from './connection.ts';
import type { ParleyError } from './errors.ts';
import { PendingTable, type WaitOptions } from './pending.ts';

export class ResentRequests<Frame extends ClientFrame & { readonly qid: string }, Answer> {
  readonly #connection: () => Connection | undefined;
  readonly #pending: PendingTable<Answer>;
  readonly #frames = new Map<string, Frame>();
  readonly #timeoutMs: number;
  /** Starts each request id: errors name a request by its id alone, so kinds must not share ids. */
  readonly #prefix: string;
  #counter = 0;

  constructor(options: { what: string; prefix: string; connection: () => Connection | undefined; timeoutMs: number }) {
    this.#connection = options.connection;
    this.#pending = new PendingTable<Answer>(options.what, 'qid');
    this.#prefix = options.prefix;
    this.#timeoutMs = options.timeoutMs;
  }

  nextId(): string {
    return `${this.#prefix}${(++this.#counter).toString(36)}`;
  }

  /** Sends the frame now (or at the next connection) and waits for its answer. */
  send(frame: Frame, options: Pick<WaitOptions, 'timeoutMs' | 'signal'>, channel: string): Promise<Answer> {
    const qid = frame.qid;
    this.#frames.set(qid, frame);
    const answer = this.#pending.add(
      qid,
      { timeoutMs: options.timeoutMs ?? this.#timeoutMs, signal: options.signal, onSettled: () => this.#frames.delete(qid) },
      { channel },
    );
    this.#connection()?.send(frame);
    return answer;
  }

  /** A connection came up: send every unanswered request (again). */
  resendAll(): void {
    const connection = this.#connection();
    for (const frame of this.#frames.values()) connection?.send(frame);
  }

  answered(qid: string, answer: Answer): void {
    this.#pending.resolve(qid, answer);
  }

  /** An `err` about a qid; false when no request with that qid is waiting. */
  refused(qid: string, error: ParleyError): boolean {
    return this.#pending.reject(qid, error);
  }

  rejectAll(error: ParleyError): void {
    this.#pending.rejectAll(error);
  }
}
