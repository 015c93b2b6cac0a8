// Parts of /sync answers shared between users: when an event arrives, every member's
// long-poll wakes with the same `since` and gets the same few events of the room, so a
// room's part is serialised once and reused until the stream moves on.

export class SyncFragments {
  #position = '';
  readonly #parts = new Map<string, string>();

  /** The part under `key`, made once per stream position. */
  get(position: string, key: string, make: () => unknown): string {
    if (position !== this.#position) {
      this.#position = position;
      this.#parts.clear();
    }
    let part = this.#parts.get(key);
    if (part === undefined) {
      part = JSON.stringify(make());
      // Thousands of distinct parts at one position means they are not being shared.
      if (this.#parts.size < 10_000) this.#parts.set(key, part);
    }
    return part;
  }
}
