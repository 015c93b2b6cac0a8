// The hub's reports, for components built after it. Peering and the metrics need the
// hub to be built, and the hub reports to them (channels taken up or dropped, commit
// times): one of the two has to be told about the other later. The hub is built with
// this relay's callbacks, and whoever listens attaches once built. Chosen over closures
// that name consts declared further down (which read as if those existed already, and
// throw if the hub reports early): here the order of construction is the order in the
// code, and a report before anyone listens is dropped, as with no listener at all.

import type { AppendResult } from '../store/store.ts';

export interface HubListeners {
  /** A channel gained its first local member (`used`) or lost its last. */
  readonly interest?: (channel: string, used: boolean) => void;
  /** A batch was committed to the store, in this many seconds. */
  readonly commit?: (seconds: number) => void;
  /** A batch was stored and fanned out. */
  readonly stored?: (results: readonly AppendResult[]) => void;
}

export class HubEvents {
  #listeners: HubListeners = {};

  /** For HubOptions.onInterest. */
  readonly onInterest = (channel: string, used: boolean): void => this.#listeners.interest?.(channel, used);
  /** For HubOptions.onCommit. */
  readonly onCommit = (seconds: number): void => this.#listeners.commit?.(seconds);

  /** For HubOptions.onStored. */
  readonly onStored = (results: readonly AppendResult[]): void => this.#listeners.stored?.(results);

  attach(listeners: HubListeners): void {
    this.#listeners = { ...this.#listeners, ...listeners };
  }
}
