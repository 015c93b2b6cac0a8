// How gossipsub runs in parley, in one place: messages carry no gossipsub signature (the
// envelope inside is signed by its author, and every peer must use the same policy),
// the message id is the envelope's, and peer scoring counts only what a peer does
// wrong: each message a topic validator rejects costs its sender, quadratically, so a
// peer that keeps sending bad messages is graylisted (its messages are ignored) and then
// disconnected. Quiet peers on quiet channels lose nothing: chat channels are often idle.

import type { PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score';

/** Largest payload `publish` takes: the node's largest message (1 MiB), plus room for the envelope around it. */
export const MAX_GOSSIP_DATA = 1024 * 1024 + 64 * 1024;

/** Largest gossipsub RPC read from a peer: one full message plus room for control data and framing. */
export const MAX_GOSSIP_RPC = MAX_GOSSIP_DATA + 64 * 1024;

/**
 * Score = -(rejected messages)^2 per topic, decaying by 1 % a second (a rejection is
 * mostly forgotten after ~5 minutes). 3 rejections in a row cross gossipThreshold
 * (-5: no gossip to or from the peer), 8 publishThreshold (-50), 9 graylistThreshold
 * (-80: everything from the peer is ignored, and the host disconnects it).
 */
export const TOPIC_SCORE: Partial<TopicScoreParams> = {
  topicWeight: 1,
  timeInMeshWeight: 0,
  timeInMeshQuantum: 1000,
  firstMessageDeliveriesWeight: 0,
  meshMessageDeliveriesWeight: 0,
  meshFailurePenaltyWeight: 0,
  invalidMessageDeliveriesWeight: -1,
  invalidMessageDeliveriesDecay: 0.99,
};

export const SCORE_THRESHOLDS: PeerScoreThresholds = {
  gossipThreshold: -5,
  publishThreshold: -50,
  graylistThreshold: -80,
  acceptPXThreshold: 10,
  opportunisticGraftThreshold: 20,
};

/** Peer score parameters that apply to every topic: no colocation penalty (LAN and test nodes share an address). */
export const SCORE_PARAMS = {
  IPColocationFactorWeight: 0,
  appSpecificWeight: 0,
  decayInterval: 1000,
  decayToZero: 0.01,
  // A disconnected peer's score is kept this long, so reconnecting does not wash it.
  retainScore: 3600_000,
} as const;
