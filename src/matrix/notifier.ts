// Wakes the /sync long-polls of the users something new concerns. A waiter is a
// resolve function; each is called once, by a wake or by its timeout.

export class SyncNotifier {
  readonly #waiters = new Map<string, Set<() => void>>();

  /** Resolves when one of the users is woken, after `timeoutMs`, or when `signal` aborts. */
  wait(userId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.#waiters.get(userId);
      if (waiters === undefined) this.#waiters.set(userId, (waiters = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        const set = this.#waiters.get(userId);
        set?.delete(done);
        if (set?.size === 0) this.#waiters.delete(userId);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
      waiters.add(done);
    });
  }

  wake(userIds: Iterable<string>): void {
    for (const userId of userIds) {
      const waiters = this.#waiters.get(userId);
      if (waiters === undefined) continue;
      for (const done of [...waiters]) done();
    }
  }

  /** Wakes every waiter (the node is stopping). */
  wakeAll(): void {
    this.wake([...this.#waiters.keys()]);
  }

  waiting(): number {
    let count = 0;
    for (const set of this.#waiters.values()) count += set.size;
    return count;
  }
}
