// The node's open client connections, whatever their protocol: kept alive with pings,
// and at shutdown closed with 1001 and waited for (a while).

import type { ClientConnection } from '../websocket/client-connection.ts';

export class ClientConnections {
  readonly #open = new Set<ClientConnection>();
  #allClosed: (() => void) | undefined;

  add(session: ClientConnection): void {
    this.#open.add(session);
  }

  /** For ConnectionContext.onClosed. */
  readonly onClosed = (session: ClientConnection): void => {
    this.#open.delete(session);
    if (this.#open.size === 0) this.#allClosed?.();
  };

  /** Pings every connection; drops those that missed `maxMissed` pings in a row. */
  ping(maxMissed: number): void {
    for (const session of this.#open) session.ping(maxMissed);
  }

  /** Closes every connection with SHUTDOWN; resolves when all have closed, or after `graceMs`. */
  async shutdown(graceMs: number): Promise<void> {
    const drained = new Promise<void>((resolve) => {
      this.#allClosed = resolve;
      if (this.#open.size === 0) resolve();
    });
    for (const session of this.#open) session.refuse('SHUTDOWN');
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([drained, timeout]);
  }
}
