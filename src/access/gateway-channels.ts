// Channels only the node itself writes: those of its Matrix gateway, `matrix/...` (rooms)
// and `matrix-...` (server names, the directory, inboxes, devices, to-device messages).
// The gateway checks each entry against its accounts and the room's rules before writing
// it, and other nodes take an entry by the node it came from (docs/matrix.md), so a client
// writing there itself would write as whichever user of its node's server it named. Reading stays open:
// Mles and native clients see room events.
//
// Held on every node, with --matrix or not: a node without the gateway still carries rooms
// (peering and gossip replicate every channel), and what its clients wrote there would
// reach the gateways with that node as origin: a claim of a server name before the real
// gateway's, or events of users of the node's own id.

/** Whether only the node's Matrix gateway may write the channel. */
export function isGatewayChannel(channel: string): boolean {
  return channel.startsWith('matrix/') || channel.startsWith('matrix-');
}

/** Why a client's publish to a gateway channel is refused, and what to do instead. */
export const GATEWAY_CHANNEL_RULE = "channels starting with matrix/ or matrix- are written only by the node's Matrix gateway: send through a Matrix client (/_matrix/client/)";
