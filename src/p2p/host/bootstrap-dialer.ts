// Keeps this node connected to its --bootstrap peers: each is dialled at start, and
// again with backoff whenever it is not connected (the dial failed, or the connection
// ended). libp2p 3 dials nothing by itself. Timers and the dial are passed in.

import type { Logger } from 'pino';
import { Backoff, type BackoffOptions } from '../../timing/backoff.ts';

export interface BootstrapTarget {
  readonly peerId: string;
  readonly addr: string;
}

export interface BootstrapDialerDependencies {
  readonly targets: readonly BootstrapTarget[];
  dial(target: BootstrapTarget, signal: AbortSignal): Promise<void>;
  isConnected(peerId: string): boolean;
  readonly log: Logger;
  readonly backoff?: BackoffOptions;
  readonly random?: () => number;
}

interface TargetState {
  readonly target: BootstrapTarget;
  readonly backoff: Backoff;
  timer: NodeJS.Timeout | undefined;
  dialing: boolean;
}

export class BootstrapDialer {
  readonly #deps: BootstrapDialerDependencies;
  readonly #states: Map<string, TargetState>;
  readonly #abort = new AbortController();

  constructor(deps: BootstrapDialerDependencies) {
    this.#deps = deps;
    this.#states = new Map(
      deps.targets.map((target) => [target.peerId, { target, backoff: new Backoff({ maxMs: 30_000, ...deps.backoff }, deps.random), timer: undefined, dialing: false }]),
    );
  }

  start(): void {
    for (const state of this.#states.values()) void this.#attempt(state);
  }

  /** A peer's last connection closed: a bootstrap peer is dialled again after a delay. */
  peerDisconnected(peerId: string): void {
    const state = this.#states.get(peerId);
    if (state !== undefined) this.#schedule(state);
  }

  /** A peer connected (whoever dialled): its delays start over. */
  peerConnected(peerId: string): void {
    const state = this.#states.get(peerId);
    if (state === undefined) return;
    state.backoff.reset();
    clearTimeout(state.timer);
    state.timer = undefined;
  }

  stop(): void {
    this.#abort.abort();
    for (const state of this.#states.values()) clearTimeout(state.timer);
  }

  #schedule(state: TargetState): void {
    if (this.#abort.signal.aborted || state.timer !== undefined || state.dialing) return;
    const delay = state.backoff.next();
    state.timer = setTimeout(() => {
      state.timer = undefined;
      void this.#attempt(state);
    }, delay);
    state.timer.unref();
  }

  async #attempt(state: TargetState): Promise<void> {
    const { target } = state;
    if (this.#abort.signal.aborted || state.dialing || this.#deps.isConnected(target.peerId)) return;
    state.dialing = true;
    try {
      await this.#deps.dial(target, this.#abort.signal);
      this.#deps.log.info({ peer: target.peerId, addr: target.addr }, 'p2p bootstrap peer connected');
    } catch (error) {
      if (this.#abort.signal.aborted) return;
      this.#deps.log.warn({ peer: target.peerId, addr: target.addr, attempt: state.backoff.attempt + 1, err: (error as Error).message }, 'p2p bootstrap peer not reachable; retrying');
    } finally {
      state.dialing = false;
    }
    if (!this.#deps.isConnected(target.peerId)) this.#schedule(state);
  }
}
