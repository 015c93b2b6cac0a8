// The checks at the end: both stores read and held against every ack, against what each
// client was handed, and against each other; the full disk and A's idle RSS judged.

import { setTimeout as sleep } from 'node:timers/promises';
import { converged, storedMessages, type ListedMessage, type NetworkNode } from '../../test/helpers/peer-network.ts';
import { mib, tagOf } from './common.ts';
import { ackedCount, mlesSent, refusedWhileFull, type Load } from './load.ts';
import type { NodeA } from './node-a.ts';
import { metricSum, replay } from './reads.ts';
import type { DiskFigures } from './schedule.ts';
import { CHANNELS, FOLLOWED, RSS_MARGIN_MIB, SETTLE_MS } from './shape.ts';

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

function samples(list: readonly string[], n = 5): string {
  return list.length === 0 ? '' : `: ${list.slice(0, n).join('; ')}${list.length > n ? `; ... (${list.length} in all)` : ''}`;
}

/** Seq problems of one stored channel, which must hold 1..n, each once: the missing ranges, and any seq out of order. */
function seqProblems(node: string, channel: string, messages: readonly ListedMessage[]): string[] {
  const out: string[] = [];
  let prev = 0;
  for (const { seq } of messages) {
    if (seq <= prev) out.push(`${node} ${channel}: seq ${seq} after ${prev}`);
    else if (seq > prev + 1) out.push(`${node} ${channel}: seqs ${prev + 1}-${seq - 1} missing (${seq - prev - 1})`);
    prev = Math.max(prev, seq);
  }
  return out;
}

export interface Verdict {
  readonly checks: Check[];
  readonly rows: Array<[string, string]>;
  /** Per channel and node: messages stored, the newest seq stored, the node's counter. */
  readonly counters: string[];
}

export function check(name: string, problems: readonly string[], detail = ''): Check {
  return { name, ok: problems.length === 0, detail: problems.length === 0 ? detail : `${problems.length} problem(s)${samples(problems)}` };
}

/** Reads both stores and checks them against what was acked and what clients were handed. */
export async function verify(a: NodeA, b: NetworkNode, load: Load): Promise<Verdict> {
  const stores = new Map<string, Map<string, ListedMessage[]>>([
    ['A', new Map()],
    ['B', new Map()],
  ]);
  for (const ch of CHANNELS) stores.get('A')!.set(ch, await storedMessages(a.net, ch));
  // B's stores once it has caught up: the same ids as A's, none twice.
  const convergence: string[] = [];
  for (const ch of FOLLOWED) {
    try {
      await converged([a.net, b], ch, 1, 30_000);
    } catch (e) {
      convergence.push(`${ch}: ${e instanceof Error ? e.message : String(e)}`);
    }
    stores.get('B')!.set(ch, await storedMessages(b, ch));
    stores.get('A')!.set(ch, await storedMessages(a.net, ch));
  }

  // Seqs 1..n on both nodes, and the node's own counter (a native replay's `live.last`) agreeing.
  const seqs: string[] = [];
  const readPaths: string[] = [];
  const counters: string[] = [];
  for (const [node, byChannel] of stores) {
    for (const [ch, messages] of byChannel) {
      seqs.push(...seqProblems(node, ch, messages));
      const native = await replay(node === 'A' ? a.net : b, ch);
      const top = messages.at(-1)?.seq ?? 0;
      counters.push(`${node} ${ch}: ${messages.length}, ${top}, ${native.last}`);
      if (native.last !== top) seqs.push(`${node} ${ch}: the node's last seq is ${native.last}, the newest stored ${top}`);
      const httpIds = messages.map((m) => `${m.seq}:${m.id}`).join();
      if (native.messages.map((m) => `${m.seq}:${m.id}`).join() !== httpIds) {
        readPaths.push(`${node} ${ch}: native replay (${native.messages.length}) differs from the HTTP pages (${messages.length})`);
      }
    }
  }

  // Every acked publish at its seq, with its id and payload, on the node that acked it; and on A.
  const lost: string[] = [];
  let lostOnA = 0;
  const idsOnA = new Set([...stores.get('A')!.values()].flatMap((list) => list.map((m) => m.id)));
  for (const p of load.allPublishers) {
    const byChannel = stores.get(p.node.name)!;
    for (const r of p.acked.values()) {
      const list = byChannel.get(r.channel) ?? [];
      const at = list[r.seq - 1];
      const found = at?.seq === r.seq ? at : list.find((m) => m.seq === r.seq);
      if (found === undefined || found.id !== r.id || tagOf(found.text) !== r.tag) {
        const elsewhere = list.find((m) => tagOf(m.text) === r.tag);
        lost.push(
          `${r.tag} acked on ${r.node} as ${r.channel} seq ${r.seq}: ${found === undefined ? 'no such seq' : `seq ${r.seq} holds ${tagOf(found.text)}`}` +
            `${elsewhere === undefined ? ', not stored anywhere in the channel' : `, stored as seq ${elsewhere.seq}`}`,
        );
      } else if (!idsOnA.has(r.id)) {
        lost.push(`${r.tag} acked on ${r.node} as ${r.channel} seq ${r.seq} but missing on A`);
        lostOnA++;
      }
    }
  }

  // Nothing stored twice.
  const twice: string[] = [];
  for (const [node, byChannel] of stores) {
    for (const [ch, messages] of byChannel) {
      const seen = new Set<string>();
      for (const m of messages) {
        const tag = tagOf(m.text);
        if (seen.has(tag)) twice.push(`${node} ${ch}: ${tag}`);
        seen.add(tag);
      }
    }
  }

  // What clients were handed: stored, each once, in one order.
  const handed: string[] = [];
  const seqOnA = new Map<string, Map<string, number>>();
  for (const [ch, messages] of stores.get('A')!) seqOnA.set(ch, new Map(messages.map((m) => [tagOf(m.text), m.seq])));
  let mlesReceived = 0;
  for (const m of load.mles) {
    for (const s of m.sessions) {
      const seqOf = seqOnA.get(s.channel)!;
      let prev = 0;
      for (const tag of s.tags) {
        mlesReceived++;
        const seq = seqOf.get(tag);
        if (seq === undefined) handed.push(`Mles client in ${s.channel} got ${tag}, which A does not store`);
        else if (seq <= prev) handed.push(`Mles client in ${s.channel} got ${tag} (seq ${seq}) after seq ${prev}`);
        else prev = seq;
      }
    }
  }
  for (const [follower, node] of [
    [load.followA, 'A'],
    [load.followB, 'B'],
  ] as const) {
    handed.push(...follower.problems);
    const byChannel = stores.get(node)!;
    for (const ch of follower.channels) {
      const stored = byChannel.get(ch) ?? [];
      const deadline = performance.now() + 15_000;
      while (follower.cursor(ch) < (stored.at(-1)?.seq ?? 0) && performance.now() < deadline) await sleep(100);
      const got = follower.seen.get(ch)!.map((m) => `${m.seq}:${m.id}`).join();
      if (got !== stored.map((m) => `${m.seq}:${m.id}`).join()) {
        handed.push(`${follower.name} ${ch}: received ${follower.seen.get(ch)!.length} messages (to seq ${follower.cursor(ch)}), ${node} stores ${stored.length}`);
      }
    }
  }

  const { allPublishers, remote, mles } = load;
  const unacked = allPublishers.flatMap((p) => [...p.pending.keys()]);
  const refusedOther = allPublishers.reduce((n, p) => n + p.refusedOtherwise, 0);
  const checks = [
    check('every acked message is stored at its seq, on the node that acked it and on A', lost, `${ackedCount(load)} acked`),
    check('seqs run 1..n in every channel, and the node counters agree', seqs),
    check('nothing stored twice', twice),
    check('the native replay and the HTTP pages agree', readPaths),
    check('B holds what A holds in the channels it follows', convergence),
    check('clients were handed only stored messages, once each, in order', handed),
    check('every publish was acked in the end', unacked.map((c) => `${c} unacked`)),
    check('publishes refused only while the disk was full', refusedOther > 0 ? [`${refusedOther} refused outside the disk-full phase`] : []),
    check('acks consistent, and no native error but STORE_FAILED', allPublishers.flatMap((p) => p.problems)),
    check('HTTP pages: every answer 200 and gap-free', load.http.problems),
    check('A exited only when told to, and promptly', a.problems),
  ];
  const onA = [...stores.get('A')!.values()];
  const rows: Array<[string, string]> = [
    ['native publishes acked (on A, on B)', `${ackedCount(load) - remote.acked.size}, ${remote.acked.size}`],
    ['acked and lost (where acked; on A, acked on B)', `${lost.length - lostOnA}; ${lostOnA}`],
    ['stored twice; seq gaps', `${twice.length}; ${seqs.length}`],
    [`messages stored on A (${CHANNELS.length} channels)`, String(onA.reduce((n, list) => n + list.length, 0))],
    [
      'publishes refused while the disk was full (STORE_FAILED)',
      `${refusedWhileFull(load)} refusals of ${allPublishers.reduce((n, p) => n + p.refusedCids.size, 0)} publishes`,
    ],
    ['publishes refused otherwise', String(refusedOther)],
    [
      'Mles joins; frames sent, stored, received',
      `${mles.reduce((n, m) => n + m.sessions.length, 0)}; ${mlesSent(load)}, ` +
        `${onA.reduce((n, list) => n + list.filter((m) => m.text.startsWith('mles')).length, 0)}, ${mlesReceived}`,
    ],
    ['HTTP pages read (refused while A was down)', `${load.http.ok} (${load.http.unavailable})`],
    [
      'peer messages B received from A (sent to A)',
      `${await metricSum(b, 'parley_peer_messages_received_total')} (${await metricSum(b, 'parley_peer_messages_sent_total')})`,
    ],
  ];
  return { checks, rows, counters };
}

/** The checks of the full disk (when there was one) and of A's idle RSS against its baseline. */
export function diskAndMemoryChecks(load: Load, full: DiskFigures | undefined, baselineKiB: number, finalKiB: number): Check[] {
  const checks: Check[] = [];
  if (full !== undefined) {
    checks.push(check('the full disk refused publishes', refusedWhileFull(load) > 0 ? [] : ['no publish was refused while the disk was full: the phase tested nothing']));
    checks.push(check('A stores again once the disk has room', full.recovered ? [] : ['no publish acked within 30 s of freeing the disk']));
  }
  checks.push(
    check(
      `A's idle RSS at most ${RSS_MARGIN_MIB} MiB above its baseline`,
      finalKiB <= baselineKiB + RSS_MARGIN_MIB * 1024 ? [] : [`${mib(finalKiB)} MiB after ${SETTLE_MS / 1000} s idle, baseline ${mib(baselineKiB)} MiB`],
    ),
  );
  return checks;
}
