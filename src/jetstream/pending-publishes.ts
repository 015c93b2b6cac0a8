// The publishes of this node that wait for their record to be applied: the publishing
// side registers them and fails them, the reading side answers them as it applies their
// records. A duplicate JetStream acknowledges is answered from the result its original got.

import type { Member, PublishCallback } from '../hub/hub.ts';
import type { AppendResult } from '../store/store.ts';
import { StoreError } from '../store/store-error.ts';

/** A publish of this node waiting for its record to be applied. */
export interface Waiting {
  readonly except: Member | undefined;
  readonly done: PublishCallback | undefined;
}

/** Publish results kept by stream seq, for a duplicate acked after its original was applied. */
const RECENT_RESULTS = 200_000;

/**
 * A publish JetStream did not store (or this node cannot answer): a store error
 * "unavailable", which clients are told as they are of a failing disk, and which the
 * native client retries with the same client id.
 */
export function notStored(reason: string): StoreError {
  return new StoreError('unavailable', reason);
}

export class PendingPublishes {
  #nextRef = 0;
  readonly #waiting = new Map<number, Waiting>();
  /** Duplicates JetStream acked with a seq not applied yet, by that seq. */
  readonly #duplicates = new Map<number, Waiting[]>();
  readonly #recent = new Map<number, AppendResult>();
  /** The stream seq applied so far, as the reading side last said. */
  #applied = 0;

  /** Registers a publish; its ref goes into its record, to find it again when the record is applied. */
  add(except: Member | undefined, done: PublishCallback | undefined): number {
    const ref = ++this.#nextRef;
    this.#waiting.set(ref, { except, done });
    return ref;
  }

  /** Takes the publish `ref` out of the table, to be answered by the commit of its record. */
  take(ref: number): Waiting | undefined {
    const waiting = this.#waiting.get(ref);
    if (waiting !== undefined) this.#waiting.delete(ref);
    return waiting;
  }

  /** Keeps the result of the lone record of stream message `seq`, for a duplicate of it acked later. */
  remember(seq: number, result: AppendResult): void {
    this.#recent.set(seq, result);
    this.#recent.delete(seq - RECENT_RESULTS);
  }

  /**
   * JetStream acknowledged the lone publish `ref` as a duplicate of stream message `seq`:
   * it is answered with its original's result, now if that is applied, else once it is.
   */
  duplicateAcked(ref: number, seq: number): void {
    const waiting = this.take(ref);
    if (waiting === undefined) return;
    if (seq <= this.#applied) this.#answerDuplicate(waiting, seq);
    else {
      const list = this.#duplicates.get(seq);
      if (list === undefined) this.#duplicates.set(seq, [waiting]);
      else list.push(waiting);
    }
  }

  /** The stream is applied up to `seq`: the duplicates of what that covers are answered. */
  applied(seq: number): void {
    this.#applied = seq;
    if (this.#duplicates.size > 0) {
      for (const [original, waiting] of this.#duplicates) {
        if (original > seq) continue;
        this.#duplicates.delete(original);
        for (const w of waiting) this.#answerDuplicate(w, original);
      }
    }
  }

  /** Answers the publishes `refs` with `failure`. */
  fail(refs: readonly number[], failure: Error): void {
    for (const ref of refs) this.take(ref)?.done?.(failure);
  }

  /** Answers every publish still waiting for its record with `failure`. */
  failAll(failure: Error): void {
    for (const waiting of this.#waiting.values()) waiting.done?.(failure);
    this.#waiting.clear();
  }

  #answerDuplicate(waiting: Waiting, seq: number): void {
    const first = this.#recent.get(seq);
    if (first === undefined) {
      // Too old to be kept: the publisher retries, and its store finds it by client id.
      waiting.done?.(notStored('the original of this duplicate is no longer at hand; publish it again'));
      return;
    }
    waiting.done?.({ message: first.message, duplicate: true });
  }
}
