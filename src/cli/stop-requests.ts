// Where the requests to stop a long-running command come from:
//   - signals sent to this process;
//   - signals sent to the launcher that started it on Node 24 (bin/parley.js on an older
//     Node), which passes them on over its IPC channel;
//   - the process that started it going away: the launcher's channel closing, or, under
//     npm (npx parley, npm start), the parent changing. A supervisor that stops npm kills
//     npm and its shell; without this the node would go on serving, orphaned.

/** Who asked: the same kind of request twice from the same source means "stop now". */
export type StopSource = 'signal' | 'launcher' | 'parent exited';

export interface StopRequest {
  /** The signal, for the first two sources. */
  readonly signal: NodeJS.Signals | undefined;
  readonly source: StopSource;
}

/** What is used of the process (`process`, or a stand-in in tests). */
export type ProcessLike = Pick<NodeJS.Process, 'pid' | 'ppid' | 'env' | 'channel' | 'on' | 'removeListener' | 'kill'>;

export interface StopRequestOptions {
  /** The signals that ask to stop. */
  readonly signals: readonly NodeJS.Signals[];
  /** How often the parent is checked under npm. */
  readonly pollMs?: number;
}

/** The signal a launcher passed on, if the message is one. */
export function launcherSignal(message: unknown): NodeJS.Signals | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const signal = (message as { signal?: unknown }).signal;
  return typeof signal === 'string' && /^SIG[A-Z0-9]+$/.test(signal) ? (signal as NodeJS.Signals) : undefined;
}

/** Whether npm started this process (npx, npm start, npm run): npm sets this for its scripts. */
export function startedByNpm(env: NodeJS.ProcessEnv): boolean {
  return env.npm_lifecycle_event !== undefined;
}

/**
 * Calls `onRequest` for every request to stop, from every source, until the returned
 * function is called. Signals not in `options.signals` that the launcher passes on are
 * raised on this process, so they do what they would have done.
 */
export function listenForStopRequests(proc: ProcessLike, options: StopRequestOptions, onRequest: (request: StopRequest) => void): () => void {
  const onSignal = (signal: NodeJS.Signals): void => onRequest({ signal, source: 'signal' });
  for (const signal of options.signals) proc.on(signal, onSignal);

  const onMessage = (message: unknown): void => {
    const signal = launcherSignal(message);
    if (signal === undefined) return;
    if (options.signals.includes(signal)) onRequest({ signal, source: 'launcher' });
    else proc.kill(proc.pid, signal);
  };
  const onDisconnect = (): void => onRequest({ signal: undefined, source: 'parent exited' });
  if (proc.channel !== undefined) {
    proc.on('message', onMessage);
    proc.on('disconnect', onDisconnect);
    // The channel is for the launcher to talk; it must not keep the process alive.
    proc.channel.unref();
  }

  let watch: NodeJS.Timeout | undefined;
  if (startedByNpm(proc.env)) {
    const parent = proc.ppid;
    watch = setInterval(() => {
      if (proc.ppid === parent) return;
      clearInterval(watch);
      onRequest({ signal: undefined, source: 'parent exited' });
    }, options.pollMs ?? 250);
    watch.unref();
  }

  return () => {
    for (const signal of options.signals) proc.removeListener(signal, onSignal);
    proc.removeListener('message', onMessage);
    proc.removeListener('disconnect', onDisconnect);
    clearInterval(watch);
  };
}

/**
 * For a command that is not a long-running node: what its launcher passes on is raised
 * here, and the launcher going away is a hangup.
 */
export function followLauncher(proc: ProcessLike): void {
  if (proc.channel === undefined) return;
  proc.on('message', (message) => {
    const signal = launcherSignal(message);
    if (signal !== undefined) proc.kill(proc.pid, signal);
  });
  proc.on('disconnect', () => proc.kill(proc.pid, 'SIGHUP'));
  proc.channel.unref();
}
