// The stream parley needs, and how an existing stream is brought to it: settings that
// JetStream can change in place are updated; those it cannot (or that would change what
// the stream holds) are reported as a conflict, naming the setting and what to do.
// Pure: the caller fetches the stream's config and applies the answer.

import { streamSubjects } from './subjects.ts';

/** The parts of a JetStream stream config that parley sets or checks. */
export interface StreamShape {
  readonly name: string;
  readonly subjects: readonly string[];
  readonly retention: string;
  readonly storage: string;
  readonly num_replicas: number;
  /** Nanoseconds. */
  readonly duplicate_window: number;
  readonly max_msgs_per_subject: number;
  readonly max_age: number;
  readonly max_msgs: number;
  readonly max_bytes: number;
  readonly discard: string;
}

/**
 * How long JetStream remembers a `Nats-Msg-Id`: a client retry (or a peer's message
 * arriving through a second node) within it is stored once. Later ones are still caught by
 * each node's store by client id, in the same order on every node.
 */
export const DUPLICATE_WINDOW_MS = 10 * 60_000;

export function wantedStream(name: string, replicas: number): StreamShape {
  return {
    name,
    subjects: [streamSubjects(name)],
    retention: 'limits',
    storage: 'file',
    num_replicas: replicas,
    duplicate_window: DUPLICATE_WINDOW_MS * 1e6,
    // Nothing is removed by the server: per-channel numbering is computed by every node
    // from the whole stream (see docs/scaling.md, "Retention").
    max_msgs_per_subject: -1,
    max_age: 0,
    max_msgs: -1,
    max_bytes: -1,
    discard: 'old',
  };
}

export type StreamPlan =
  | { readonly action: 'create'; readonly config: StreamShape }
  | { readonly action: 'keep' }
  | { readonly action: 'update'; readonly config: StreamShape; readonly changes: readonly string[] }
  | { readonly action: 'conflict'; readonly problems: readonly string[] };

/** What to do so that a stream with `existing` settings (undefined: none yet) is `wanted`. */
export function planStream(wanted: StreamShape, existing: Partial<StreamShape> | undefined): StreamPlan {
  if (existing === undefined) return { action: 'create', config: wanted };
  const problems: string[] = [];
  const subjects = existing.subjects ?? [];
  if (subjects.length !== 1 || subjects[0] !== wanted.subjects[0]) {
    problems.push(`its subjects are ${JSON.stringify(subjects)}, parley needs exactly ["${wanted.subjects[0]}"]`);
  }
  if (existing.retention !== undefined && existing.retention !== wanted.retention) {
    problems.push(`its retention policy is "${existing.retention}", parley needs "limits" (JetStream cannot change it)`);
  }
  if (existing.storage !== undefined && existing.storage !== wanted.storage) {
    problems.push(`its storage is "${existing.storage}", parley needs "file" (JetStream cannot change it)`);
  }
  const removes = (['max_msgs_per_subject', 'max_age', 'max_msgs', 'max_bytes'] as const).filter((k) => {
    const v = existing[k];
    return v !== undefined && v > 0;
  });
  if (removes.length > 0) {
    problems.push(`it has limits that make the server remove messages (${removes.map((k) => `${k} ${existing[k]}`).join(', ')}); parley numbers messages from the whole stream and keeps retention itself`);
  }
  if (problems.length > 0) return { action: 'conflict', problems };
  const changes: string[] = [];
  if (existing.num_replicas !== wanted.num_replicas) changes.push(`replicas ${existing.num_replicas} -> ${wanted.num_replicas}`);
  if (existing.duplicate_window !== wanted.duplicate_window) changes.push(`duplicate window ${nsToSeconds(existing.duplicate_window)}s -> ${nsToSeconds(wanted.duplicate_window)}s`);
  if (changes.length === 0) return { action: 'keep' };
  return { action: 'update', config: { ...wanted, ...pickUnchanged(existing) }, changes };
}

/** Settings parley does not manage but an update must not reset. */
function pickUnchanged(existing: Partial<StreamShape>): Partial<StreamShape> {
  return existing.discard === undefined ? {} : { discard: existing.discard };
}

function nsToSeconds(ns: number | undefined): number {
  return ns === undefined ? 0 : Math.round(ns / 1e9);
}
