// `parley group <verb>`: end-to-end encrypted groups from the terminal, one process per
// verb, through GroupClient (src/group). Owns flag parsing, output lines and exit codes;
// the client's state (identity, groups, messages) lives in --data DIR.

import { parseArgs } from 'node:util';
import { GroupClient, GroupError } from '../group/index.ts';
import type { GroupReport, PendingIntent, StoredMessage } from '../group/index.ts';

export const GROUP_USAGE = `Usage: parley group <verb> [--url URL] [--uid UID] [--data DIR] [--key MLES_KEY] [args]

End-to-end encrypted groups (MLS). The node relays and stores only ciphertext.

Verbs:
  init                  create this installation's identity and publish key packages
                        (every other verb does it on first use)
  create GROUP          create a group with you as its only member
  add GROUP UID...      add every installation of each UID (they must have run a
                        group command once, so their key packages are published)
  remove GROUP UID...   remove every installation of each UID
  send GROUP TEXT       send a message; prints "sent to GROUP (seq N)", N its place in
                        the group's order
  read GROUP            sync, print each message as "UID: TEXT" in group order, exit;
                        first says so when you were removed from (or left) the group
  members GROUP         sync, print one member per line: "UID INSTALLATION"
  update GROUP          rotate your keys in the group (a commit with a fresh path)
  leave GROUP           ask the group to remove you (a member commits it)
  watch GROUP           print messages and membership changes as they come (Ctrl-C ends);
                        also applies and retries your pending changes as news comes
  status GROUP          sync, then print the group's epoch, its ordering node, and every
                        change of yours not applied yet, with why
  handover GROUP NODEID hand the ordering of the group's commits to another node (its
                        id from parley keys show), when the ordering node is gone for
                        good; only the group's creator can

Options:
  --url URL         the node, ws://host:port/ (http:// also accepted)
                    (default: env PARLEY_URL)
  --uid UID         your uid (default: env PARLEY_UID)
  --data DIR        this client's own state directory (identity, groups, messages)
                    (default: env PARLEY_DATA)
  --key MLES_KEY    the node's shared key, when it requires auth (default: env MLES_KEY)
  --wait SECONDS    how long add, remove, update and send wait for the group's ordering
                    node to order a change before exiting with status 3 (default 10)
  -h, --help        show this help

--url, --uid and --data are required, each given as a flag or by its environment
variable; a flag wins over the variable.

Each group's commits (adds, removes, key updates) are ordered by one node, the node of
the member who created it, so that every member applies the same ones in the same order.
When that node cannot be reached, a change waits: the command says so and exits 3; the
change is applied by itself once the node orders it (any later command, or a running
watch, finishes it). Messages are never held up by it.

Exit status: 0 on success, 1 when the operation failed (the error code is printed on
stderr, e.g. NO_KEY_PACKAGES, UNKNOWN_GROUP), 2 for bad flags, 3 when the change is
submitted but waits for the group's ordering node (PENDING).
`;

const VERB_ARGS: Record<string, { min: number; max: number }> = {
  init: { min: 0, max: 0 },
  create: { min: 1, max: 1 },
  add: { min: 2, max: Infinity },
  remove: { min: 2, max: Infinity },
  send: { min: 2, max: 2 },
  read: { min: 1, max: 1 },
  members: { min: 1, max: 1 },
  update: { min: 1, max: 1 },
  leave: { min: 1, max: 1 },
  watch: { min: 1, max: 1 },
  status: { min: 1, max: 1 },
  handover: { min: 2, max: 2 },
};

export interface GroupIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env?: NodeJS.ProcessEnv;
  /** Resolves when watch should stop; default: SIGINT or SIGTERM. */
  readonly stopSignal?: Promise<void>;
}

interface Parsed {
  readonly verb: string;
  readonly args: readonly string[];
  readonly url: string;
  readonly uid: string;
  readonly dataDir: string;
  readonly key: string | undefined;
  readonly waitMs: number | undefined;
}

export function parseGroupArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Parsed | 'help' | string {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        uid: { type: 'string' },
        data: { type: 'string' },
        key: { type: 'string' },
        wait: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    return (error as Error).message;
  }
  if (values.help) return 'help';
  const [verb, ...args] = positionals;
  if (verb === undefined) return 'a verb is needed';
  const shape = VERB_ARGS[verb];
  if (shape === undefined) return `unknown verb "${verb}"`;
  if (args.length < shape.min || args.length > shape.max) return `wrong number of arguments for "${verb}"`;
  const url = values.url ?? nonEmpty(env.PARLEY_URL);
  const uid = values.uid ?? nonEmpty(env.PARLEY_UID);
  const dataDir = values.data ?? nonEmpty(env.PARLEY_DATA);
  const missing = [
    url === undefined ? '--url (or env PARLEY_URL)' : undefined,
    uid === undefined ? '--uid (or env PARLEY_UID)' : undefined,
    dataDir === undefined ? '--data (or env PARLEY_DATA)' : undefined,
  ].filter((m) => m !== undefined);
  if (url === undefined || uid === undefined || dataDir === undefined) return `missing ${missing.join(', ')}: required`;
  let waitMs: number | undefined;
  if (values.wait !== undefined) {
    const seconds = Number(values.wait);
    if (values.wait.trim() === '' || !Number.isFinite(seconds) || seconds < 0) return `--wait takes a number of seconds (0 or more), not "${values.wait}"`;
    waitMs = seconds * 1000;
  }
  return { verb, args, url, uid, dataDir, key: values.key ?? env.MLES_KEY, waitMs };
}

const nonEmpty = (value: string | undefined): string | undefined => (value === undefined || value === '' ? undefined : value);

const line = (m: StoredMessage): string => `${m.sender.uid}: ${m.text}\n`;

function defaultStop(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

export async function runGroup(argv: readonly string[], io: GroupIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const parsed = parseGroupArgs(argv, io.env ?? process.env);
  if (parsed === 'help') {
    io.stdout.write(GROUP_USAGE);
    return 0;
  }
  if (typeof parsed === 'string') {
    io.stderr.write(`parley group: ${parsed}\n${GROUP_USAGE}`);
    return 2;
  }
  let client: GroupClient | undefined;
  try {
    client = await GroupClient.open({ url: parsed.url, uid: parsed.uid, dataDir: parsed.dataDir, key: parsed.key, orderWaitMs: parsed.waitMs });
    await runVerb(client, parsed, io);
    return 0;
  } catch (error) {
    if (error instanceof GroupError && error.code === 'PENDING') {
      io.stderr.write(`parley group: PENDING: ${error.message}\n`);
      return 3;
    }
    const code = error instanceof GroupError || (error as { code?: unknown }).code !== undefined ? `${String((error as { code: unknown }).code)}: ` : '';
    io.stderr.write(`parley group: ${code}${(error as Error).message}\n`);
    return 1;
  } finally {
    await client?.close();
  }
}

async function runVerb(client: GroupClient, parsed: Parsed, io: GroupIo): Promise<void> {
  const [group = '', ...rest] = parsed.args;
  const out = (text: string): void => void io.stdout.write(text);
  switch (parsed.verb) {
    case 'init':
      await client.init();
      out(`${client.uid} ${client.installation}\n`);
      return;
    case 'create':
      await client.create(group);
      out(`created ${group}\n`);
      return;
    case 'add':
      await client.add(group, rest);
      out(`added ${rest.join(' ')} to ${group}\n`);
      return;
    case 'remove':
      await client.remove(group, rest);
      out(`removed ${rest.join(' ')} from ${group}\n`);
      return;
    case 'send': {
      const sent = await client.send(group, rest[0]!);
      out(`sent to ${group} (seq ${sent.seq})\n`);
      return;
    }
    case 'read': {
      await client.sync(group);
      const row = client.groups().find((g) => g.name === group);
      if (row?.status === 'removed') out(`you were removed from ${group} at epoch ${row.epoch}; older messages below are those you could read\n`);
      if (row?.status === 'left') out(`you left ${group} at epoch ${row.epoch}; older messages below are those you could read\n`);
      for (const m of client.messages(group)) out(line(m));
      return;
    }
    case 'members':
      await client.sync(group);
      for (const m of client.members(group)) out(`${m.uid} ${m.installation}\n`);
      return;
    case 'update':
      await client.updateKeys(group);
      return;
    case 'leave':
      await client.leave(group);
      out(`asked to leave ${group}\n`);
      return;
    case 'watch':
      await watch(client, group, io);
      return;
    case 'handover': {
      const { afterN } = await client.handover(group, rest[0]!);
      out(`${rest[0]} orders ${group} from now on (after ordered record ${afterN})\n`);
      return;
    }
    case 'status':
      await client.sync(group);
      out(statusText(client.report(group)));
      return;
  }
}

const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 19);

function describeIntent(p: PendingIntent): string {
  if (p.kind === 'send') return `send "${p.data.text ?? ''}"`;
  if (p.kind === 'add' || p.kind === 'remove') return `${p.kind} ${(p.data.uids ?? []).join(' ')}`;
  return p.kind;
}

export function statusText(report: GroupReport): string {
  const lines = [
    `${report.name}: ${report.status}, epoch ${report.epoch}, ${report.members} member${report.members === 1 ? '' : 's'}`,
    `ordering node: ${report.orderer}${report.ordererIsLocal ? ' (the node you use)' : ' (another node)'}; ${report.ordered} ordered commits applied`,
  ];
  if (report.orderProblem !== undefined) lines.push(`WARNING: the ordering node misbehaved, commits are stopped: ${report.orderProblem}`);
  if (report.held > 0) lines.push(`${report.held} message${report.held === 1 ? '' : 's'} of a later epoch wait${report.held === 1 ? 's' : ''} for the commit that starts it`);
  if (report.pending.length === 0) lines.push('no pending changes');
  for (const p of report.pending) lines.push(`pending: ${describeIntent(p)} (intent ${p.id}, since ${clock(p.since)} UTC): ${p.reason}`);
  return `${lines.join('\n')}\n`;
}

async function watch(client: GroupClient, group: string, io: GroupIo): Promise<void> {
  // Changes are reported from the first sync on: it may be the one that applies a
  // change left pending by an earlier command, or joins the group.
  client.on('membership', (e) => {
    if (e.group !== group) return;
    for (const m of e.added) io.stdout.write(`* ${m.uid} joined\n`);
    for (const m of e.removed) io.stdout.write(`* ${m.uid} left\n`);
  });
  client.on('removed', (e) => {
    if (e.group === group) io.stdout.write(`* you are no longer in ${group}\n`);
  });
  client.on('intent', (e) => {
    if (e.group === group && e.state === 'COMMITTED' && e.kind !== 'send') io.stdout.write(`* your ${e.kind} is applied\n`);
    if (e.group === group && e.state === 'ERROR') io.stdout.write(`* your ${e.kind} failed: ${e.error ?? 'unknown error'}\n`);
  });
  client.on('misbehaviour', (e) => {
    if (e.group === group) io.stderr.write(`parley group: WARNING: the ordering node of ${group} misbehaved (${e.problem}): ${e.detail}; commits are stopped\n`);
  });
  let stopWatch: (() => void) | undefined;
  client.on('joined', (e) => {
    if (e.group !== group) return;
    io.stdout.write(`* you joined ${group}\n`);
    // A group joined while watching needs its channel watched too.
    if (stopWatch === undefined) return;
    stopWatch();
    stopWatch = client.watch();
  });
  await client.sync().catch((error: unknown) => {
    // Not joined yet is fine for watch: the Welcome may still come.
    if (!(error instanceof GroupError && error.code === 'UNKNOWN_GROUP')) throw error;
  });
  let printed = 0;
  const known = client.groups().some((g) => g.name === group);
  if (known) {
    for (const m of client.messages(group)) {
      io.stdout.write(line(m));
      printed = m.seq;
    }
  }
  client.on('message', (m) => {
    if (m.group === group && m.seq > printed) {
      printed = m.seq;
      io.stdout.write(line(m));
    }
  });
  client.on('error', (e) => io.stderr.write(`parley group: ${e.code}: ${e.message}\n`));
  stopWatch = client.watch();
  await (io.stopSignal ?? defaultStop());
  stopWatch?.();
}
