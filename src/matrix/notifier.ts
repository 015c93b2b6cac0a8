// Wakes the /sync long-polls that something new concerns. A waiting poll is filed under
// its user and under each room the user was joined to when it began to wait, so that an
// event in a room wakes only that room's polls (not every poll of the node, and without
// walking the room's member list), and a change that concerns one user (an invite, their
// own account data, a to-device message) wakes only that user's polls. Each waiter is
// called once, by a wake, its timeout or its abort signal.

type Waiter = () => void;

export class SyncNotifier {
  readonly #byUser = new Map<string, Set<Waiter>>();
  readonly #byRoom = new Map<string, Set<Waiter>>();

  /**
   * Resolves when the user or one of `rooms` is woken, after `timeoutMs`, or when
   * `signal` aborts.
   */
  wait(userId: string, rooms: Iterable<string>, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const roomIds = [...rooms];
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        unfile(this.#byUser, userId, done);
        for (const roomId of roomIds) unfile(this.#byRoom, roomId, done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
      file(this.#byUser, userId, done);
      for (const roomId of roomIds) file(this.#byRoom, roomId, done);
    });
  }

  /** Wakes the polls of these users. */
  wake(userIds: Iterable<string>): void {
    for (const userId of userIds) callAll(this.#byUser.get(userId));
  }

  /** Wakes the polls of the users joined to the room. */
  wakeRoom(roomId: string): void {
    callAll(this.#byRoom.get(roomId));
  }

  /** Wakes every waiter (the node is stopping). */
  wakeAll(): void {
    for (const waiters of [...this.#byUser.values()]) callAll(waiters);
  }

  waiting(): number {
    let count = 0;
    for (const set of this.#byUser.values()) count += set.size;
    return count;
  }
}

function file(index: Map<string, Set<Waiter>>, key: string, waiter: Waiter): void {
  let set = index.get(key);
  if (set === undefined) index.set(key, (set = new Set()));
  set.add(waiter);
}

function unfile(index: Map<string, Set<Waiter>>, key: string, waiter: Waiter): void {
  const set = index.get(key);
  if (set === undefined) return;
  set.delete(waiter);
  if (set.size === 0) index.delete(key);
}

function callAll(waiters: Set<Waiter> | undefined): void {
  if (waiters === undefined) return;
  // Each waiter removes itself from the set it is called from.
  for (const waiter of [...waiters]) waiter();
}
