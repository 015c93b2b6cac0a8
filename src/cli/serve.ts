// `parley serve`: builds the config from flags, starts the node, and shuts it down
// gracefully on SIGTERM, SIGINT, SIGHUP or SIGUSR2 (clients get 1001, the process exits 0),
// and when the process that started it is gone (stop-requests.ts).

import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import type { NodeConfig } from '../node/config.ts';
import { createNodeLog, type LogLinesDropped } from '../node/log.ts';
import { startNode } from '../node/node.ts';
import { renderSettings } from './print-config.ts';
import { COMMAND_LINE_ONLY, parseServeArgs, SECRET_ENVIRONMENT, SERVE_DEFAULTS, SERVE_OPTIONS, SERVE_USAGE, UsageError } from './serve-args.ts';
import { listenForStopRequests, type StopRequest, type StopSource } from './stop-requests.ts';

/**
 * The signals that stop the node, gracefully. By default Node dies on SIGHUP and SIGUSR2
 * without closing anything: SIGHUP is what a node started from an ssh session gets when
 * the connection drops, and SIGUSR2 is what tools that restart a process send (nodemon),
 * or what someone sends by mistake. Whoever sends either expects the process to end, so
 * it ends, only cleanly; ignoring SIGUSR2 would leave such a tool waiting.
 */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR2'];

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
  if (options.printConfig) {
    const secretEnvironment = Object.fromEntries(SECRET_ENVIRONMENT.map((name) => [name, process.env[name]]));
    process.stdout.write(renderSettings({ options: SERVE_OPTIONS, skip: COMMAND_LINE_ONLY, given: options.given, defaults: SERVE_DEFAULTS, secretEnvironment }));
    return 0;
  }
  const output = createNodeLog({ level: options.logLevel });
  // On SIGUSR1 Node opens a V8 inspector on 127.0.0.1:9229, and any local user can attach
  // to it and run code as this node. A listener of our own replaces Node's handler. (npm
  // start passes --disable-sigusr1, and then the signal never gets here; the `parley`
  // command cannot: a #! line takes no portable flags, and older Node versions would
  // refuse this one before the launcher could tell the user they need Node 24.)
  process.on('SIGUSR1', () => output.log.warn({ signal: 'SIGUSR1' }, 'SIGUSR1 ignored: this node opens no inspector'));
  try {
    return await serve(options.config, output.log, () => output.dropped());
  } finally {
    // Lines still queued are written before the process exits (unless the log is stuck).
    await output.close();
  }
}

async function serve(config: NodeConfig, log: Logger, logDropped: () => LogLinesDropped): Promise<number> {
  try {
    mkdirSync(config.dataDir, { recursive: true });
  } catch (error) {
    process.stderr.write(`parley serve: cannot create data directory ${config.dataDir}: ${(error as Error).message}\n`);
    return 1;
  }

  let node;
  try {
    node = await startNode(config, log, { logDropped });
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
  // Stopping is set up before the node says it listens: whoever waits for that line may
  // send a signal at once.
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const asked = new Set<StopSource>();
    const stop = ({ signal, source }: StopRequest): void => {
      if (stopping) {
        // The same request often arrives twice: a Ctrl-C or a systemd stop reaches the
        // launcher too, which passes it on; a hangup comes from the kernel and from the
        // shell. Only a second Ctrl-C or SIGTERM from the same source means "do not wait".
        const again = asked.has(source);
        asked.add(source);
        if (!again || source === 'parent exited' || signal === 'SIGHUP' || signal === 'SIGUSR2') return;
        log.warn({ signal, source }, 'second signal: exiting now');
        resolve(1);
        return;
      }
      stopping = true;
      asked.add(source);
      if (signal === undefined) log.info({ reason: 'the process that started this one exited' }, 'shutting down');
      else log.info({ signal, ...(source === 'launcher' ? { via: 'launcher' } : {}) }, 'shutting down');
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
    listenForStopRequests(process, { signals: STOP_SIGNALS }, stop);
  });
  for (const url of node.urls) log.info({ url }, 'listening');
  const first = node.urls[0];
  // A line for whoever sits at the terminal: if it hung up already (EIO), or the pipe is
  // closed (EPIPE), there is no one to tell. (The log copes with that by itself.)
  process.stderr.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EIO' && error.code !== 'EPIPE') throw error;
  });
  if (first !== undefined) process.stderr.write(`parley: chat page at ${first} (Ctrl-C stops the node)\n`);
  return stopped;
}
