// Node A under the schedule: restarts by SIGTERM and SIGKILL, noticing when it exits by
// itself, and keeping what each of its processes logged and its peak RSS.

import { setTimeout as sleep } from 'node:timers/promises';
import type { NetworkNode } from '../../test/helpers/peer-network.ts';
import { log } from './common.ts';
import { warnings, type LogLine } from './node-log.ts';

export class NodeA {
  readonly net: NetworkNode;
  up = true;
  terms = 0;
  kills = 0;
  readonly problems: string[] = [];
  /** What earlier processes logged at warn level or above. */
  readonly logged: LogLine[] = [];
  /** The highest RSS sampled, over all of A's processes. */
  peakKiB = 0;
  #expectExit = false;
  #stopping = false;

  constructor(net: NetworkNode) {
    this.net = net;
    this.#watch();
  }

  get pid(): number | undefined {
    return this.up ? this.net.process.child.pid : undefined;
  }

  #watch(): void {
    const proc = this.net.process;
    proc.child.once('exit', (code, signal) => {
      if (this.#expectExit || this.#stopping) return;
      this.up = false;
      this.logged.push(...warnings(proc));
      this.problems.push(`A exited by itself (${code ?? signal}); last output: ${proc.stderr.slice(-3).join(' | ') || proc.stdout.slice(-2).join(' | ')}`);
      log(`!! A exited by itself (${code ?? signal}); starting it again`);
      void this.#startAgain();
    });
  }

  /** Starts A again on its port and data, trying for a minute; false if it would not start. */
  async #startAgain(): Promise<boolean> {
    const deadline = performance.now() + 60_000;
    for (let attempt = 0; !this.#stopping && performance.now() < deadline; attempt++) {
      try {
        await this.net.start();
        this.#watch();
        this.up = true;
        return true;
      } catch (e) {
        if (attempt % 10 === 0) log(`!! A did not start: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
        await sleep(500);
      }
    }
    this.problems.push('A would not start again within a minute');
    return false;
  }

  /** Stops A with a signal and starts it again on the same port and data; returns the time it was down. */
  async restart(signal: 'SIGTERM' | 'SIGKILL'): Promise<number> {
    const started = performance.now();
    const proc = this.net.process;
    this.#expectExit = true;
    this.up = false;
    const exited = proc.stop(signal);
    const code = await Promise.race([exited, sleep(15_000, 'timeout' as const)]);
    if (code === 'timeout') {
      this.problems.push(`A did not exit within 15 s of ${signal}`);
      await proc.stop('SIGKILL');
    } else if (signal === 'SIGTERM' && code !== 0) {
      this.problems.push(`A exited with ${code} on SIGTERM`);
    }
    this.logged.push(...warnings(proc));
    if (signal === 'SIGTERM') this.terms++;
    else this.kills++;
    const back = await this.#startAgain();
    this.#expectExit = false;
    if (!back) throw new Error(`A would not start again after ${signal}: ${this.net.process.stderr.slice(-5).join(' | ')}`);
    return performance.now() - started;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.logged.push(...warnings(this.net.process));
    await this.net.stop('SIGTERM');
  }
}
