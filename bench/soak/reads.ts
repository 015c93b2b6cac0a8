// Reads of a node's state from outside: a native replay of a whole channel, a metric
// summed over its labels, and waiting for the peer link to come up.

import { setTimeout as sleep } from 'node:timers/promises';
import { NativeTestClient } from '../../test/helpers/native-client.ts';
import type { NetworkNode } from '../../test/helpers/peer-network.ts';
import { receivedOf, type Received } from './common.ts';

/** A native replay of a whole channel: its messages and the node's newest seq (`live.last`). */
export async function replay(node: NetworkNode, channel: string): Promise<{ messages: Received[]; last: number }> {
  const client = await NativeTestClient.connect(node.wsUrl, `verify-${channel}`);
  try {
    client.send({ t: 'sub', ch: channel, after: 0 });
    const live = await client.next((f) => (f.t === 'live' || f.t === 'err') && f.ch === channel, 30_000);
    if (live.t === 'err') throw new Error(`replay of ${channel} on ${node.name}: ${String(live.code)} ${String(live.msg)}`);
    const messages = client.messages(channel).map(receivedOf);
    return { messages, last: Number(live.last) };
  } finally {
    await client.close();
  }
}

export async function metricSum(node: NetworkNode, name: string): Promise<number> {
  const text = await (await fetch(`${node.httpUrl}metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').pop());
  return sum;
}

export async function waitForLink(node: NetworkNode): Promise<void> {
  const deadline = performance.now() + 20_000;
  while ((await metricSum(node, 'parley_peer_up')) < 1) {
    if (performance.now() > deadline) throw new Error(`no peer link up on ${node.name} within 20 s`);
    await sleep(100);
  }
}
