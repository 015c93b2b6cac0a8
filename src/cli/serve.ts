// `parley serve`: builds the config from flags, starts the node, and shuts it down
// gracefully on SIGTERM/SIGINT (clients get 1001, the process exits 0).

import { mkdirSync } from 'node:fs';
import { pino } from 'pino';
import { startNode } from '../server/node.ts';
import { LogOutput } from './log-output.ts';
import { parseServeArgs, SERVE_USAGE, UsageError } from './serve-args.ts';

export async function runServe(argv: readonly string[]): Promise<number> {
  let options;
  try {
    options = parseServeArgs(argv, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`parley serve: ${error.message}\nRun 'parley serve --help' for the options.\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(SERVE_USAGE);
    return 0;
  }
  const { config } = options;
  const output = new LogOutput();
  const log = pino({ level: options.logLevel, base: { pid: process.pid } }, output.stream);
  try {
    mkdirSync(config.dataDir, { recursive: true });
  } catch (error) {
    process.stderr.write(`parley serve: cannot create data directory ${config.dataDir}: ${(error as Error).message}\n`);
    return 1;
  }

  let node;
  try {
    node = await startNode(config, log);
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { address?: string; port?: number };
    const where = e.address !== undefined ? ` on ${e.address}:${e.port}` : '';
    const hint =
      e.code === 'EADDRINUSE'
        ? ' (another program already uses it: pick another port with --listen HOST:PORT, or --port for the --domains listener)'
        : e.code === 'EACCES'
          ? ' (ports below 1024 need privileges: use a higher port or grant CAP_NET_BIND_SERVICE)'
          : '';
    process.stderr.write(`parley serve: cannot start${where}: ${e.message}${hint}\n`);
    return 1;
  }
  for (const url of node.urls) log.info({ url }, 'listening');
  const first = node.urls[0];
  if (first !== undefined) process.stderr.write(`parley: chat page at ${first} (Ctrl-C stops the node)\n`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        resolve(1);
        return;
      }
      stopping = true;
      log.info({ signal }, 'shutting down');
      node.close().then(
        () => {
          log.info('stopped');
          resolve(0);
        },
        (error: unknown) => {
          log.error({ err: error }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
