// The node's place in a network of nodes: the links it dials (with backoff, to the
// URLs its peer sources list) and the links it accepts, and the interest table that
// decides which channels to ask each link for. Receives the hub and the identity;
// the server routes peer upgrades here.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import WebSocket, { WebSocketServer } from 'ws';
import { Backoff } from '../timing/backoff.ts';
import type { Hub } from '../hub/hub.ts';
import type { Store } from '../store/store.ts';
import type { NodeIdentity } from '../identity/node-identity.ts';
import type { ReplicaIntake } from '../envelope/intake.ts';
import type { Sealer } from '../envelope/seal.ts';
import { InterestTable, type AskChange } from './interest.ts';
import { PeerLink, type LinkContext, type LinkCounters } from './link.ts';
import { QueriedChannels } from './queried-channels.ts';
import { maxPeerFrame, PEER_CLOSES, PEER_SUBPROTOCOL, type PeerCloseCode } from './protocol.ts';

/** Close reasons that blame the peer: counted in /metrics. */
const REFUSALS: ReadonlySet<PeerCloseCode> = new Set(['BAD_FRAME', 'BAD_PROOF', 'UNTRUSTED', 'HANDSHAKE_TIMEOUT', 'FORGED', 'OUT_OF_ORDER', 'UNSEALED', 'FLOOD', 'TOO_SLOW']);

/** How long a query waits for the peers' streams of its channel to catch up. */
const FRESH_WAIT_MS = 3000;
/** How long a node waits for its other peers before telling a peer it has caught up. */
const UPSTREAM_WAIT_MS = 2000;
/** How long a queried channel stays asked for after the last query. */
const QUERY_INTEREST_MS = 60_000;
/** Queried channels asked for at once at most: each costs a stream on every peer. */
const MAX_QUERIED = 1000;

export interface PeeringOptions {
  readonly identity: NodeIdentity;
  readonly hub: Hub;
  readonly store: Store;
  /** Checks envelopes from peers (shared with the other transports). */
  readonly intake: ReplicaIntake;
  readonly sealer: Sealer;
  readonly log: Logger;
  /** Shared secret all peers must prove they know (PEER_KEY). */
  readonly peerKey: string | undefined;
  /** Node ids allowed to link (--trust); empty = any node that knows the key. */
  readonly trusted: readonly string[];
  readonly maxPayload: number;
  readonly rateLimit: number;
  readonly pingIntervalMs: number;
  readonly handshakeTimeoutMs?: number;
  readonly maxSendBuffer?: number;
  /** A peer asked for a channel (someone behind it uses it): other transports may carry it too. */
  readonly onAsked?: (channel: string) => void;
}

/** What /metrics shows of a peer. */
export interface PeerStatus {
  /** The dialed URL, or `inbound`. */
  readonly url: string;
  readonly node: string;
  readonly up: boolean;
  readonly lag: number;
  readonly counters: LinkCounters;
}

interface Dial {
  readonly url: string;
  readonly backoff: Backoff;
  link: PeerLink | undefined;
  timer: NodeJS.Timeout | undefined;
  stopped: boolean;
  /** Totals of this URL's earlier links, so counters do not reset on reconnect. */
  readonly past: LinkCounters;
  lastNode: string;
  /** Not dialing while the node's own link to us is up (see #keepOneLink). */
  parkedFor: string | undefined;
}

export class Peering {
  readonly #options: PeeringOptions;
  readonly #table: InterestTable;
  readonly #links = new Map<number, PeerLink>();
  readonly #dials = new Map<string, Dial>();
  readonly #server: WebSocketServer;
  readonly #context: LinkContext;
  readonly #pinger: NodeJS.Timeout;
  #closing = false;
  /** Channels clients here use (from the hub). */
  readonly #hubUsed = new Set<string>();
  /** Channels queried here lately: asked for a while, so queries see the network's messages. */
  readonly #queried: QueriedChannels;
  /** Links this node closed for what the peer did, by reason. */
  readonly #refusals = new Map<PeerCloseCode, number>();
  /** Who waits for a channel's streams from peers to catch up. */
  readonly #waiters = new Set<{ readonly channel: string; readonly except: PeerLink | undefined; readonly done: () => void }>();
  /** Incoming links that ended before their handshake did, by reason. */
  readonly #handshakesFailed = new Map<string, number>();

  constructor(options: PeeringOptions) {
    this.#options = options;
    this.#table = new InterestTable(options.identity.nodeId);
    this.#queried = new QueriedChannels(MAX_QUERIED, QUERY_INTEREST_MS, (channel) => {
      this.#applyUse(channel);
      this.#wake(channel); // a query still waiting for it answers with what is here
    });
    this.#server = new WebSocketServer({ noServer: true, maxPayload: this.#maxFrame(), handleProtocols: () => PEER_SUBPROTOCOL });
    this.#context = {
      identity: options.identity,
      policy: {
        selfId: options.identity.nodeId,
        peerKey: options.peerKey,
        trusted: options.trusted.length > 0 ? new Set(options.trusted) : undefined,
      },
      hub: options.hub,
      store: options.store,
      intake: options.intake,
      sealer: options.sealer,
      log: options.log,
      maxPayload: options.maxPayload,
      rateLimit: options.rateLimit,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
      maxSendBuffer: options.maxSendBuffer ?? 64 * 1024 * 1024,
      ready: (link) => {
        if (!this.#keepOneLink(link)) return;
        this.#links.set(link.id, link);
        this.#apply(this.#table.addLink(link.id, link.node!));
      },
      asked: (link, channel, want) => {
        if (want.length > 0) options.onAsked?.(channel);
        this.#apply(this.#table.asked(link.id, channel, want));
      },
      caughtUp: (_link, channel) => this.#wake(channel),
      upstreamCaughtUp: (link, channel) => this.#caughtUpExcept(channel, link, UPSTREAM_WAIT_MS),
      handshakeFailed: (_link, reason) => this.#handshakesFailed.set(reason, (this.#handshakesFailed.get(reason) ?? 0) + 1),
      closed: (link) => {
        if (link.closedFor !== undefined && REFUSALS.has(link.closedFor)) {
          this.#refusals.set(link.closedFor, (this.#refusals.get(link.closedFor) ?? 0) + 1);
        }
        if (this.#links.delete(link.id)) {
          this.#apply(this.#table.removeLink(link.id));
          this.#unpark(link.node!);
          this.#wake(undefined);
        }
      },
    };
    for (const channel of options.hub.usedChannels()) {
      this.#hubUsed.add(channel);
      this.#table.setUsed(channel, true);
    }
    this.#pinger = setInterval(() => {
      for (const link of this.#links.values()) if (!link.ping()) link.terminate();
    }, options.pingIntervalMs);
    this.#pinger.unref();
  }

  /** Inbound links need a way to tell friends from strangers: a PEER_KEY or --trust. */
  get acceptsLinks(): boolean {
    return this.#options.peerKey !== undefined || this.#options.trusted.length > 0;
  }

  #maxFrame(): number {
    return maxPeerFrame(this.#options.maxPayload);
  }

  /** Takes over an upgrade that offered the peer subprotocol. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const remote = `${req.socket.remoteAddress ?? 'unknown'}:${req.socket.remotePort ?? 0}`;
    this.#server.handleUpgrade(req, socket, head, (ws) => {
      if (this.#closing) return ws.close(1001, 'node shutting down');
      new PeerLink(ws, 'in', remote, this.#context);
    });
  }

  /** Called by the hub when a channel becomes used or unused by clients here. */
  channelUsed(channel: string, used: boolean): void {
    if (used) this.#hubUsed.add(channel);
    else this.#hubUsed.delete(channel);
    this.#applyUse(channel);
  }

  #applyUse(channel: string): void {
    this.#apply(this.#table.setUsed(channel, this.#hubUsed.has(channel) || this.#queried.has(channel)));
  }

  /**
   * Before a query reads a channel: asks the peers for it (for QUERY_INTEREST_MS from
   * the last query, so a client paging through it pays once; MAX_QUERIED channels at
   * most, the least recently queried going first) and resolves when their
   * streams have caught up, or after `timeoutMs`. Without this a node would answer only
   * from what its own clients happened to make it fetch.
   */
  catchUp(channel: string, timeoutMs = FRESH_WAIT_MS): Promise<void> {
    if (this.#links.size === 0 || this.#closing) return Promise.resolve();
    this.#queried.queried(channel);
    this.#applyUse(channel);
    return this.#caughtUpExcept(channel, undefined, timeoutMs);
  }

  /** Whether every link we ask for the channel (but `except`'s node) has caught up. */
  #allCaughtUp(channel: string, except: PeerLink | undefined): boolean {
    for (const link of this.#links.values()) {
      if (except !== undefined && link.node === except.node) continue;
      if (link.askState(channel) === 'catching-up') return false;
    }
    return true;
  }

  /**
   * Resolves once every link we ask for the channel (but `except`) has caught up, and
   * what they sent is durable, so that a read after it sees it (the store shows a commit
   * only once it is synced).
   */
  #caughtUpExcept(channel: string, except: PeerLink | undefined, timeoutMs: number): Promise<void> {
    return this.#linksCaughtUp(channel, except, timeoutMs).then(() => this.#options.hub.settled());
  }

  #linksCaughtUp(channel: string, except: PeerLink | undefined, timeoutMs: number): Promise<void> {
    if (this.#allCaughtUp(channel, except)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = {
        channel,
        except,
        done: () => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve();
        },
      };
      // In a ring, two nodes can each wait for the other: the wait is bounded.
      const timer = setTimeout(waiter.done, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Re-checks the waiters of a channel (or of all channels). */
  #wake(channel: string | undefined): void {
    for (const waiter of [...this.#waiters]) {
      if (this.#closing || ((channel === undefined || waiter.channel === channel) && this.#allCaughtUp(waiter.channel, waiter.except))) waiter.done();
    }
  }

  /** Dials exactly these URLs from now on: new ones start, missing ones are closed. */
  setPeers(urls: readonly string[]): void {
    const wanted = new Set(urls);
    for (const [url, dial] of this.#dials) {
      if (wanted.has(url)) continue;
      dial.stopped = true;
      clearTimeout(dial.timer);
      dial.link?.close('REMOVED');
      this.#dials.delete(url);
      this.#options.log.info({ peer: url }, 'peer removed');
    }
    for (const url of wanted) {
      if (this.#dials.has(url)) continue;
      const dial: Dial = {
        url,
        backoff: new Backoff({ initialMs: 200, maxMs: 10_000, stableMs: 5_000 }),
        link: undefined,
        timer: undefined,
        stopped: false,
        past: { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 },
        lastNode: '',
        parkedFor: undefined,
      };
      this.#dials.set(url, dial);
      this.#options.log.info({ peer: url }, 'peer added');
      this.#dial(dial);
    }
  }

  #dial(dial: Dial): void {
    if (dial.stopped || this.#closing) return;
    const ws = new WebSocket(dial.url, PEER_SUBPROTOCOL, { maxPayload: this.#maxFrame(), handshakeTimeout: 10_000 });
    const link = new PeerLink(ws, 'out', dial.url, this.#context);
    dial.link = link;
    const started = Date.now();
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => this.#options.log.warn({ peer: dial.url, status: res.statusCode, body: body.trim() }, 'peer refused the link'));
    });
    ws.once('close', () => {
      for (const key of ['bytesIn', 'bytesOut', 'messagesIn', 'messagesOut'] as const) dial.past[key] += link.counters[key];
      if (link.node !== undefined) dial.lastNode = link.node;
      dial.link = undefined;
      if (dial.stopped || this.#closing) return;
      if (link.closeCode === PEER_CLOSES.SELF.close) {
        this.#options.log.error({ peer: dial.url }, 'this peer URL leads back to this node; not dialing it again');
        return;
      }
      if (link.closeCode === PEER_CLOSES.DUPLICATE.close && link.node !== undefined && this.#hasLinkTo(link.node)) {
        dial.parkedFor = link.node;
        this.#options.log.info({ peer: dial.url, node: link.node }, 'peer already linked from its side; dialing again when that link ends');
        return;
      }
      dial.backoff.connectionEnded(link.ready ? Date.now() - started : 0);
      const delay = dial.backoff.next();
      this.#options.log.info({ peer: dial.url, retryInMs: delay }, 'peer link down; reconnecting');
      dial.timer = setTimeout(() => this.#dial(dial), delay);
    });
  }

  /**
   * Two nodes that both dial each other end up with two links. Both keep the one dialed
   * by the node with the smaller id, by the same rule on both sides, and the other is
   * closed: one link carries everything, and no traffic goes twice. Returns whether
   * `link` is kept.
   */
  #keepOneLink(link: PeerLink): boolean {
    for (const other of this.#links.values()) {
      if (other.node !== link.node) continue;
      const keepNew = link.dialer! < other.dialer! || (link.dialer === other.dialer && link.id > other.id);
      const loser = keepNew ? other : link;
      loser.close('DUPLICATE');
      return keepNew;
    }
    return true;
  }

  /** A dial whose link lost to the other node's dial waits while that link is up. */
  #unpark(node: string): void {
    for (const dial of this.#dials.values()) {
      if (dial.parkedFor !== node) continue;
      dial.parkedFor = undefined;
      dial.timer = setTimeout(() => {
        // The node may have linked again meanwhile, or the link that closed was replaced.
        if (this.#hasLinkTo(node)) dial.parkedFor = node;
        else this.#dial(dial);
      }, dial.backoff.next());
    }
  }

  #apply(changes: readonly AskChange[]): void {
    for (const change of changes) this.#links.get(change.link)?.ask(change.channel, change.want, change.first);
  }

  #linkTo(node: string): PeerLink | undefined {
    for (const link of this.#links.values()) if (link.node === node) return link;
    return undefined;
  }

  #hasLinkTo(node: string): boolean {
    return this.#linkTo(node) !== undefined;
  }

  /** Links closed for what the peer did (bad frames, forgeries, holes, floods...), by reason. */
  refusals(): ReadonlyMap<PeerCloseCode, number> {
    return this.#refusals;
  }

  /** Every configured peer and every accepted link, for /metrics. */
  status(): PeerStatus[] {
    const out: PeerStatus[] = [];
    const shown = new Set<PeerLink>();
    for (const dial of this.#dials.values()) {
      // A parked dial's node is linked through the link it dialed to us.
      const via = dial.link ?? (dial.parkedFor === undefined ? undefined : this.#linkTo(dial.parkedFor));
      const counters = { ...dial.past };
      if (via !== undefined) for (const key of Object.keys(counters) as Array<keyof LinkCounters>) counters[key] += via.counters[key];
      out.push({ url: dial.url, node: via?.node ?? dial.lastNode, up: via?.ready ?? false, lag: via?.ready ? via.lag() : 0, counters });
      if (via !== undefined) shown.add(via);
    }
    for (const link of this.#links.values()) {
      if (link.direction === 'in' && !shown.has(link)) out.push({ url: 'inbound', node: link.node!, up: true, lag: link.lag(), counters: { ...link.counters } });
    }
    return out;
  }

  /** Incoming links that ended before their handshake did, by reason, for /metrics. */
  handshakesFailed(): ReadonlyMap<string, number> {
    return this.#handshakesFailed;
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#pinger);
    this.#queried.clear();
    this.#wake(undefined);
    for (const dial of this.#dials.values()) {
      dial.stopped = true;
      clearTimeout(dial.timer);
    }
    const links = [...this.#links.values(), ...[...this.#dials.values()].flatMap((d) => (d.link === undefined ? [] : [d.link]))];
    for (const link of new Set(links)) link.close('SHUTDOWN');
    this.#server.close();
  }
}
