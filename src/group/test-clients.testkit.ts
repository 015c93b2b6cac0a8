// Test kit, fixtures for the group tests: clients over one in-memory relay, each on a state
// directory of its own that is removed when the test file ends, and hooks that
// simulate a crash at a named point.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { GroupClient } from './group-client.ts';
import type { MemoryRelay } from './memory-relay.testkit.ts';
import type { CrashPoint, GroupHooks } from './services.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-group-'));
  dirs.push(dir);
  return dir;
}

/** Opens (and inits) `uid`'s client on `dataDir`, a fresh directory by default. */
export async function user(relay: MemoryRelay, uid: string, dataDir = tempDir(), hooks?: GroupHooks): Promise<GroupClient> {
  const client = await GroupClient.open({ uid, dataDir, relay: relay.as(uid), hooks });
  await client.init();
  return client;
}

/** Hooks that throw once at `crashAt.point` while `crashAt.armed` says so. */
export function crashAt(crash: { point: CrashPoint; armed: boolean } | undefined): GroupHooks {
  return {
    reached(point) {
      if (crash?.armed === true && crash.point === point) {
        crash.armed = false;
        throw new Error(`crash at ${point}`);
      }
    },
  };
}

/** A group's messages as `uid: text` lines. */
export const lines = (client: GroupClient, group: string): string[] => client.messages(group).map((m) => `${m.sender.uid}: ${m.text}`);
