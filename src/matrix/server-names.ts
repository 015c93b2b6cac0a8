// Which Matrix server names each node speaks for. A node's users are `@name:SERVER`, where
// SERVER is the node's key-derived id unless it was started with --server-name; a gateway
// with a name of its own says so in the channel `matrix-servers` (`{"server_name"}`), a
// message sealed by its origin node like every message that crosses nodes, so every node
// learns the binding from the node itself. An event that came from origin X is taken only
// when its sender's server is X's id or a name X claimed: a peer, trusted or not, cannot
// speak for the users of another server. Pure: the channel is read by rooms.ts.

export const SERVER_NAMES_CHANNEL = 'matrix-servers';

/** A node id: key-derived, so a name of this form belongs to that node alone. */
const NODE_ID = /^[0-9a-f]{32}$/;
/** As --server-name takes it: a host name with an optional port. */
const SERVER_NAME = /^[A-Za-z0-9.-]{1,230}(:\d{1,5})?$/;

/**
 * `ok`: the origin speaks for the server; `forged`: another node does (or the server is
 * another node's id); `unknown`: no node has claimed the name yet (its claim may still
 * be on its way).
 */
export type SenderVerdict = 'ok' | 'forged' | 'unknown';

export class ServerNames {
  /** The node that claimed each name first (as this node saw the claims). */
  readonly #originOf = new Map<string, string>();

  /** Records that `origin` speaks for `name`; returns why the claim is refused, or undefined. */
  claim(origin: string, name: string): string | undefined {
    if (!SERVER_NAME.test(name)) return `"${name.slice(0, 80)}" is not a server name`;
    if (NODE_ID.test(name) && name !== origin) return `${name} is the id of another node`;
    const holder = this.#originOf.get(name);
    if (holder !== undefined && holder !== origin) return `node ${holder} claimed ${name} first`;
    this.#originOf.set(name, origin);
    return undefined;
  }

  /** Whether an event from `origin` may have a sender of `server`. */
  verdict(origin: string, server: string): SenderVerdict {
    if (server === origin) return 'ok';
    const holder = this.#originOf.get(server);
    if (holder !== undefined) return holder === origin ? 'ok' : 'forged';
    return NODE_ID.test(server) ? 'forged' : 'unknown';
  }
}

/** The claim a `matrix-servers` message makes, or undefined for one that is not a claim. */
export function parseClaim(payload: Uint8Array): string | undefined {
  try {
    const record = JSON.parse(Buffer.from(payload).toString('utf8')) as { server_name?: unknown };
    return typeof record?.server_name === 'string' ? record.server_name : undefined;
  } catch {
    return undefined;
  }
}
