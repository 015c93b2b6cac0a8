// A small LAN of Linux network namespaces for tests that need hosts with addresses of
// their own (mDNS between nodes): one namespace holds a bridge, each host namespace is
// wired to it by a veth pair created inside the namespaces (never in the root one), so
// deleting the namespaces removes every link. Needs root and `ip netns`.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface NetnsLan {
  /** Host namespaces, each with its address on the LAN. */
  readonly hosts: readonly { readonly netns: string; readonly address: string }[];
  /** Runs a command in a host's namespace (prefix for spawn). */
  prefix(netns: string): string[];
  /** Removes every namespace and link made; safe to call more than once. */
  remove(): void;
}

/** Why namespaces cannot be made here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'pipe' });
  } catch (error) {
    return `ip netns is unavailable: ${(error as Error).message.split('\n')[0]}`;
  }
  return undefined;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

export function createNetnsLan(hostCount: number): NetnsLan {
  // Unique per run; interface names stay within 15 characters.
  const tag = randomBytes(3).toString('hex');
  const bridgeNs = `pl-br-${tag}`;
  const made: string[] = [];
  const hosts = Array.from({ length: hostCount }, (_, i) => ({ netns: `pl-h${i}-${tag}`, address: `10.231.${Number.parseInt(tag.slice(0, 2), 16)}.${i + 10}` }));
  const remove = (): void => {
    for (const netns of made.splice(0).reverse()) {
      try {
        ip('netns', 'del', netns);
      } catch {
        // Already gone.
      }
    }
  };
  try {
    ip('netns', 'add', bridgeNs);
    made.push(bridgeNs);
    ip('-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', bridgeNs, 'link', 'set', 'br0', 'up');
    hosts.forEach(({ netns, address }, i) => {
      ip('netns', 'add', netns);
      made.push(netns);
      ip('-n', netns, 'link', 'set', 'lo', 'up');
      ip('-n', bridgeNs, 'link', 'add', `port${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns);
      ip('-n', bridgeNs, 'link', 'set', `port${i}`, 'master', 'br0');
      ip('-n', bridgeNs, 'link', 'set', `port${i}`, 'up');
      ip('-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      ip('-n', netns, 'link', 'set', 'eth0', 'up');
      // Multicast (mDNS) leaves by the default route.
      ip('-n', netns, 'route', 'add', 'default', 'dev', 'eth0');
    });
  } catch (error) {
    remove();
    throw error;
  }
  return { hosts, prefix: (netns) => ['ip', 'netns', 'exec', netns], remove };
}
