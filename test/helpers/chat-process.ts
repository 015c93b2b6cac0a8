// A running `parley chat` process for end-to-end tests, driven through stdin and read
// line by line from stdout and stderr, with bounded waits instead of sleeps.

import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before } from 'node:test';
import { CLI, REPO_ROOT, startNode, type NodeProcess } from './node-process.ts';

/** A printed line's time, "[15:04] " or "[2026-12-06 15:04] ". */
export const TIME_PREFIX = /^\[(?:\d{4}-\d\d-\d\d )?\d\d:\d\d\] /;
/** The line that ends the history. */
export const LIVE_MARKER = /^--- (?:earlier messages above, new messages below|no earlier messages) ---$/;

export class ChatProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** What the conversation says: stdout without the times and the history/live marker. */
  readonly stdout: string[] = [];
  /** Stdout exactly as printed. */
  readonly printed: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  readonly waitMs: number;
  #wake: Array<() => void> = [];

  // A bound, not a sleep: on a busy machine four chat processes starting at once took
  // over 10 s to connect (each loads TypeScript sources), which is slow, not wrong.
  // `prefix`: a command to run it under, e.g. ['ip', 'netns', 'exec', 'ns1'] for a network namespace.
  constructor(args: readonly string[], env: NodeJS.ProcessEnv = {}, waitMs = 30_000, prefix: readonly string[] = []) {
    this.waitMs = waitMs;
    const [command, ...prefixArgs] = [...prefix, process.execPath];
    this.child = spawn(command!, [...prefixArgs, CLI, 'chat', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, MLES_KEY: undefined, ...env },
    });
    const collect = (lines: string[]) => (line: string) => {
      lines.push(line);
      for (const wake of this.#wake.splice(0)) wake();
    };
    const said = collect(this.stdout);
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.printed.push(line);
      if (!LIVE_MARKER.test(line)) said(line.replace(TIME_PREFIX, ''));
      else for (const wake of this.#wake.splice(0)) wake();
    });
    createInterface({ input: this.child.stderr }).on('line', collect(this.stderr));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        resolve(code);
        for (const wake of this.#wake.splice(0)) wake();
      }),
    );
  }

  static join(url: string, uid: string, channel: string, extra: readonly string[] = [], env?: NodeJS.ProcessEnv): ChatProcess {
    return new ChatProcess(['--url', url, '--uid', uid, '--channel', channel, ...extra], env);
  }

  /** Waits until a line of stdout or stderr satisfies `match`. */
  async waitForLine(stream: 'stdout' | 'stderr' | 'printed', match: (line: string) => boolean): Promise<string> {
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      const found = this[stream].find(match);
      if (found !== undefined) return found;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.child.exitCode !== null) {
        throw new Error(`no matching ${stream} line\nstdout:\n${this.stdout.join('\n')}\nstderr:\n${this.stderr.join('\n')}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the connection to open (Mles: the header is sent; native: welcomed). */
  connected(): Promise<string> {
    return this.waitForLine('stderr', (line) => line.startsWith('connected to '));
  }

  type(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Ends stdin, as Ctrl-D does, and resolves with the exit code. */
  endInput(): Promise<number | null> {
    this.child.stdin.end();
    return this.exited;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill();
  }
}

/**
 * For a describe block: a node started before its tests and the chat processes they
 * start, all stopped after them. `chat` joins with `defaultExtra` unless given flags.
 */
export function chatsAgainstANode(defaultExtra: readonly string[] = []): {
  node(): NodeProcess;
  chat(uid: string, channel: string, extra?: readonly string[], env?: NodeJS.ProcessEnv): ChatProcess;
  /** Stops this chat with the others (one started against another URL). */
  keep(chat: ChatProcess): ChatProcess;
} {
  let node: NodeProcess | undefined;
  const chats: ChatProcess[] = [];
  before(async () => {
    node = await startNode();
  });
  after(async () => {
    for (const chat of chats) chat.kill();
    await node?.stop();
  });
  return {
    node: () => node!,
    chat(uid, channel, extra = defaultExtra, env) {
      const chat = ChatProcess.join(node!.wsUrl, uid, channel, extra, env);
      chats.push(chat);
      return chat;
    },
    keep(chat) {
      chats.push(chat);
      return chat;
    },
  };
}
