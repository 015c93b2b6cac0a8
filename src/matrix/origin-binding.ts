// Ties what the gateway takes from its channels to the node it came from: follows the
// claims of server names (`matrix-servers`, see server-names.ts), claims this node's own
// name, and admits an entry (a room event, device keys, a to-device message, an invite
// notice, an alias) only when its origin speaks for the server of the user it is in the
// name of. One instance is shared by every reader of the gateway's channels, so that one
// claim releases everything that waited for it, and one counter counts every refusal.

import type { Logger } from 'pino';
import type { Member, PublishCallback } from '../hub/hub.ts';
import type { AppendRequest, Store, StoredMessage } from '../store/store.ts';
import { parseClaim, SERVER_NAMES_CHANNEL, ServerNames } from './server-names.ts';

export interface OriginBindingOptions {
  readonly hub: {
    subscribe(member: Member): void;
    leave(member: Member): void;
    publish(request: AppendRequest, except: undefined, done: PublishCallback): void;
  };
  readonly store: Store;
  readonly serverName: string;
  readonly log: Logger;
}

/** What an entry is, for the log: `room event`, `device keys`, `to-device message`, `invite notice`, `alias`, `room listing`. */
export interface EntryAbout {
  readonly kind: string;
  /** The user (or alias) the entry speaks for. */
  readonly sender: string;
  readonly [field: string]: unknown;
}

/** Entries held for a server name no node has claimed yet; past this, more are refused. */
const MAX_HELD = 10_000;
const READ_PAGE = 1000;

export const REFUSED_LOG = "matrix: an entry from a node that does not speak for its sender's server was refused";

export class OriginBinding {
  readonly #options: OriginBindingOptions;
  readonly #names = new ServerNames();
  #member: Member | undefined;
  /** Entries waiting for a node to claim their server, by server name. */
  readonly #held = new Map<string, Array<() => void>>();
  #heldCount = 0;
  #forged = 0;

  constructor(options: OriginBindingOptions) {
    this.#options = options;
    // This node speaks for its own name whatever the channel says.
    const refusal = this.#names.claim(options.store.nodeId, options.serverName);
    if (refusal !== undefined) throw new Error(`the server name ${options.serverName} cannot be used: ${refusal}`);
  }

  /** Entries refused because their origin does not speak for their sender's server. */
  forged(): number {
    return this.#forged;
  }

  /** Reads the claims of server names, and claims this node's own when it is not its id. */
  start(): void {
    const { store, serverName, hub } = this.#options;
    let claimed = false;
    let after = 0;
    for (;;) {
      const page = store.read(SERVER_NAMES_CHANNEL, { after, limit: READ_PAGE });
      for (const message of page) {
        if (message.origin === store.nodeId && parseClaim(message.payload) === serverName) claimed = true;
        this.#onClaim(message);
      }
      if (page.length < READ_PAGE) break;
      after = page.at(-1)!.seq;
    }
    this.#member = { channel: SERVER_NAMES_CHANNEL, deliver: ({ message }) => this.#onClaim(message) };
    hub.subscribe(this.#member);
    if (claimed || serverName === store.nodeId) return;
    const payload = Buffer.from(JSON.stringify({ server_name: serverName }));
    hub.publish({ channel: SERVER_NAMES_CHANNEL, uid: 'matrix', binary: false, payload }, undefined, (result) => {
      if (result instanceof Error) {
        this.#options.log.error({ err: result }, "matrix: the claim of this server name could not be stored; peers will hold its users' entries until it is");
      }
    });
  }

  close(): void {
    if (this.#member !== undefined) this.#options.hub.leave(this.#member);
  }

  /**
   * Runs `take` now when the message's origin speaks for `server`; once a node claims
   * the server when none has yet; never when another node speaks for it (the entry is
   * then logged and counted).
   */
  admit(message: StoredMessage, server: string, about: EntryAbout, take: () => void): void {
    const verdict = this.#names.verdict(message.origin, server);
    if (verdict === 'ok') return take();
    if (verdict === 'unknown' && this.#heldCount < MAX_HELD) {
      let held = this.#held.get(server);
      if (held === undefined) this.#held.set(server, (held = []));
      held.push(() => this.admit(message, server, about, take));
      this.#heldCount++;
      return;
    }
    const reason = verdict === 'forged' ? 'another node speaks for the server' : "too many entries wait for their server's claim";
    this.refuse(message, about, reason);
  }

  /** Logs and counts an entry that no node may write in that channel (e.g. a record for another server's user). */
  refuse(message: StoredMessage, about: EntryAbout, reason: string): void {
    this.#forged++;
    this.#options.log.warn({ ...about, origin: message.origin, channel: message.channel, seq: message.seq, reason }, REFUSED_LOG);
  }

  #onClaim(message: StoredMessage): void {
    const name = parseClaim(message.payload);
    if (name === undefined) return;
    const refusal = this.#names.claim(message.origin, name);
    if (refusal !== undefined) {
      if (message.origin !== this.#options.store.nodeId) this.#options.log.warn({ origin: message.origin, server: name, reason: refusal }, 'matrix: a node claimed a server name it may not have; refused');
      return;
    }
    const held = this.#held.get(name);
    if (held === undefined) return;
    this.#held.delete(name);
    this.#heldCount -= held.length;
    for (const retry of held) retry();
  }
}
