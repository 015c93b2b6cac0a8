// Everyone who puts load on the nodes, started together with a random stream of its
// own each, and the totals the progress line, the checks and the report read.

import type { NetworkNode } from '../../test/helpers/peer-network.ts';
import { Random } from '../../test/helpers/random.ts';
import type { DiskState } from './disk.ts';
import { Follower } from './follower.ts';
import { HttpReader } from './http-reader.ts';
import { MlesUser } from './mles-user.ts';
import type { NodeA } from './node-a.ts';
import { Publisher } from './publisher.ts';
import { CHANNELS, FOLLOWED, MLES_USERS, NATIVE_PUBLISHERS, PUBLISH_RATE } from './shape.ts';

/** Everyone who puts load on the nodes. */
export interface Load {
  /** The native publishers on A. */
  readonly publishers: readonly Publisher[];
  /** The native publisher on B. */
  readonly remote: Publisher;
  /** Publishes one message on A when asked (to see A store again after the full disk). */
  readonly probe: Publisher;
  readonly allPublishers: readonly Publisher[];
  readonly mles: readonly MlesUser[];
  readonly http: HttpReader;
  readonly followA: Follower;
  readonly followB: Follower;
}

export function startLoad(a: NodeA, b: NetworkNode, seed: number, disk: DiskState): Load {
  // A stream of its own for each client: the schedule and one client's choices do not
  // depend on how far another got.
  const rng = (i: number): Random => new Random((seed + 7919 * (i + 1)) >>> 0);
  const publishers = Array.from({ length: NATIVE_PUBLISHERS }, (_, i) => new Publisher(`pub${i}`, a.net, CHANNELS, PUBLISH_RATE, rng(i), disk));
  const remote = new Publisher('bpub', b, [FOLLOWED[0]!], 5, rng(10), disk);
  const probe = new Publisher('probe', a.net, [CHANNELS[0]!], 0, rng(11), disk);
  const load: Load = {
    publishers,
    remote,
    probe,
    allPublishers: [...publishers, remote, probe],
    mles: Array.from({ length: MLES_USERS }, (_, i) => new MlesUser(i, a.net, rng(20 + i))),
    http: new HttpReader(a.net, rng(30)),
    followA: new Follower('followA', a.net, CHANNELS),
    followB: new Follower('followB', b, FOLLOWED),
  };
  for (const x of [...load.allPublishers, ...load.mles, load.http, load.followA, load.followB]) x.start();
  return load;
}

export const ackedCount = (load: Load): number => load.allPublishers.reduce((n, p) => n + p.acked.size, 0);
export const refusedWhileFull = (load: Load): number => load.allPublishers.reduce((n, p) => n + p.refusedWhileFull, 0);
export const mlesSent = (load: Load): number => load.mles.reduce((n, m) => n + m.sent, 0);
