// Creating the stream parley needs, or bringing an existing one to it (stream-settings.ts
// decides which); a conflict stops the start with what stands in the way and what to do.

import type { JetStreamManager } from '@nats-io/jetstream';
import { planStream, wantedStream, type StreamShape } from './stream-settings.ts';

export class StreamConflictError extends Error {}

/** Creates or updates the stream; returns what it did, in words for the log. */
export async function ensureStream(manager: JetStreamManager, stream: string, replicas: number): Promise<string> {
  const wanted = wantedStream(stream, replicas);
  let existing: Partial<StreamShape> | undefined;
  try {
    existing = (await manager.streams.info(stream)).config as Partial<StreamShape>;
  } catch (error) {
    if (!/not found/i.test((error as Error).message)) throw error;
  }
  const plan = planStream(wanted, existing);
  switch (plan.action) {
    case 'create':
      await manager.streams.add({ ...plan.config, subjects: [...plan.config.subjects] } as Parameters<JetStreamManager['streams']['add']>[0]);
      return `created stream ${stream} with ${replicas} replica(s)`;
    case 'keep':
      return `using stream ${stream}`;
    case 'update':
      await manager.streams.update(stream, { ...plan.config, subjects: [...plan.config.subjects] } as Parameters<JetStreamManager['streams']['update']>[1]);
      return `updated stream ${stream}: ${plan.changes.join(', ')}`;
    case 'conflict':
      throw new StreamConflictError(
        `the NATS stream ${stream} exists with settings parley cannot use: ${plan.problems.join('; ')}. ` +
          `Use another stream (--nats-stream NAME), or remove this one (nats stream rm ${stream}) if nothing else needs it.`,
      );
  }
}
