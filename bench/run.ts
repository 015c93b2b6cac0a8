// `npm run bench`: measures parley against nats-server and mosquitto on this machine.
// For each scenario and system it starts a fresh server (pinned to core 0 when possible),
// runs the load generator in its own process (pinned to core 1), and collects the results
// into bench/results/latest.json and a markdown table on stdout. Progress goes to stderr.
//
//   npm run bench -- [--quick] [--only a,b,c,d,e,f] [--systems parley,nats,mosquitto]
//                    [--warmup MS] [--measure MS] [--idle N] [--window N] [--catchup N]
//                    [--parley-entry FILE] [--no-pin] [--out FILE]
//   npm run bench -- soak [--quick] [--duration MS] [--seed N] [--no-disk-full]   (soak/main.ts)

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { GeneratorReply } from './generator.ts';
import type { StoreLimit } from './store-limit.ts';
import type { Machine, Report, RunEntry } from './report.ts';
import { intOption } from './options.ts';
import { matrixMarkdown, runMatrixBench } from './matrix.ts';
import { groupMarkdown, runGroupBench } from './groups.ts';
import { PEERING_WARMUP_MS, peeringMarkdown, runPeeringBench } from './peering.ts';
import { cpuModel } from './proc.ts';
import { computeTargets, markdown, rate, SYSTEM_LABEL } from './report.ts';
import type { CatchupRun, Job, ProtocolName, ScenarioName, ScenarioResult } from './scenarios.ts';
import type { RunningSystem, StoreMode, SystemName, SystemOptions } from './systems.ts';
import { hasTaskset, makeDataDir, startSystem, SYSTEMS, systemAvailable, systemVersion, wrapCommand } from './systems.ts';

const USAGE = `usage: npm run bench -- [options]
       npm run bench -- soak [--quick] [--duration MS] [--seed N] [--no-disk-full]
       npm run bench -- scaling [--quick] [--measure MS] [--help]
  scaling               instead of the comparison: acked ingest and fan-out through 1
                        and 3 parley nodes on NATS JetStream (1 and 3 replicas) beside
                        SQLite and JetStream's own async publish (bench/scaling.ts)
  soak                  instead of the comparison: a soak run of two peered parley nodes
                        under mixed load with restarts and a full disk, checking that
                        nothing acked is lost and that RSS comes back (bench/README.md)
  --quick               short smoke run (0.5 s warm-up + 1 s, 1000 idle connections,
                        20000 messages and one catch-up in (e))
  --only a,b,c,d,e,f    scenarios: a = fan-out, b = pairs, c = idle connections,
                        d = durable acked ingest, e = catch-up replay,
                        f = native protocol fan-out, h = peering hops and links
                        (h:latency, h:throughput or h:line for those shapes only),
                        m = Matrix gateway: send to long-poll latency beside the
                        native protocol's, memory per syncing client
                        g = encrypted groups: time from add to every member applying
                        it, 10 and 100 members over two nodes (--quick: 10)
                        (default: all)
  --systems LIST        parley,nats,mosquitto (default: all three)
  --warmup MS           warm-up per throughput scenario (default 2000)
  --measure MS          measured window (default 5000)
  --idle N              idle connections for (c) (default 10000)
  --fanout N            subscribers for (a) and (f) (default 100)
  --window N            messages in flight in (a) and (f) (default 256)
  --pairs N             channels of 2 for (b) (default 1000)
  --matrix-clients N    long-polling Matrix clients (and native subscribers) in (m)
                        (default 1000; 200 with --quick)
  --catchup N           messages preloaded and replayed in (e) (default 100000, at most
                        100000: parley's default retention)
  --parley-entry FILE   parley CLI entry (default src/cli/main.ts)
  --no-pin              do not pin server and generator to separate cores
  --out FILE            JSON output (default bench/results/latest.json)
`;

const SCENARIOS: Record<string, ScenarioName> = {
  a: 'fanout',
  b: 'pairs',
  c: 'idle',
  d: 'ingest',
  e: 'catchup',
  f: 'native-fanout',
};

/** Unacknowledged publishes per publisher in (d) and the preload of (e). */
const ACK_WINDOW = 256;
/** (d): publishers and channels. */
const INGEST_SHAPES: ReadonlyArray<{ publishers: number; channels: number }> = [
  { publishers: 1, channels: 1 },
  { publishers: 10, channels: 10 },
  { publishers: 10, channels: 1 },
];

/** The protocol a system speaks in a scenario. */
function protocolFor(scenario: ScenarioName, system: SystemName): ProtocolName | undefined {
  switch (scenario) {
    case 'fanout':
    case 'pairs':
    case 'idle':
      return system === 'parley' ? 'mles' : system === 'nats' ? 'nats' : 'mqtt';
    case 'ingest':
    case 'catchup':
      // mosquitto has no counterpart: its QoS 1 PUBACK is sent before its periodic
      // persistence writes anything, and it has no replay of stored messages.
      return system === 'parley' ? 'native' : system === 'nats' ? 'jetstream' : undefined;
    case 'native-fanout':
      return system === 'parley' ? 'native' : undefined;
  }
}

function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

function hardFdLimit(): number {
  try {
    const out = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
    return out === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(out);
  } catch {
    return 1024;
  }
}

/** A program on PATH or in the sbin/bin directories Debian installs servers to. */
function findBinary(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];
  for (const d of dirs) {
    if (d === '') continue;
    const candidate = `${d}/${name}`;
    if (existsSync(candidate)) return candidate;
  }
  return name;
}

/** The filesystem a directory is on and the median time of a 4 KiB write + fdatasync there. */
function storageFacts(dir: string): string {
  let fs = 'unknown filesystem';
  try {
    let best = '';
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, mount, type] = line.split(' ');
      if (mount === undefined || type === undefined) continue;
      if ((dir === mount || dir.startsWith(mount.endsWith('/') ? mount : `${mount}/`)) && mount.length >= best.length) {
        best = mount;
        fs = type; // the type, not the device or path: the report goes into the README
      }
    }
  } catch {
    // keep 'unknown'
  }
  const probe = mkdtempSync(join(dir, 'bench-fsync-'));
  const times: number[] = [];
  try {
    const fd = openSync(join(probe, 'probe'), 'w');
    const block = Buffer.alloc(4096, 1);
    for (let i = 0; i < 100; i++) {
      const t = performance.now();
      writeSync(fd, block);
      fdatasyncSync(fd);
      times.push(performance.now() - t);
    }
    closeSync(fd);
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
  times.sort((a, b) => a - b);
  const median = times[times.length >> 1] ?? Number.NaN;
  return `${fs}, a 4 KiB write + fdatasync took ${(median * 1000).toFixed(0)} µs (median of 100)`;
}

/** bench/store-limit.ts on the server's core: the disk's and the store's own limits. */
function storeLimit(core: number | undefined, quick: boolean): StoreLimit | undefined {
  const script = fileURLToPath(new URL('./store-limit.ts', import.meta.url));
  const cmd = wrapCommand([process.execPath, script, tmpdir(), quick ? '1000' : '3000'], core);
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 60_000 });
  try {
    return JSON.parse(r.stdout.trim()) as StoreLimit;
  } catch {
    log(`the store limit probe failed: ${r.stderr.trim() || r.error?.message || 'no output'}`);
    return undefined;
  }
}

function ticksPerSecond(): number {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
}

function runGenerator(job: Job, core: number | undefined): Promise<GeneratorReply> {
  const script = fileURLToPath(new URL('./generator.ts', import.meta.url));
  const cmd = wrapCommand([process.execPath, script], core);
  return new Promise((resolve) => {
    const child = spawn(cmd[0] ?? 'sh', cmd.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let reply: GeneratorReply | undefined;
    const limit = setTimeout(
      () => {
        reply ??= { ok: false, error: 'generator timed out' };
        child.kill('SIGKILL');
      },
      job.warmupMs + job.measureMs + 180_000,
    );
    child.on('message', (m: unknown) => {
      reply ??= m as GeneratorReply;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(limit);
      resolve(reply ?? { ok: false, error: `generator exited (${code ?? signal}) without a result` });
    });
    child.send(job);
  });
}

function logResult(label: string, r: ScenarioResult): void {
  switch (r.kind) {
    case 'throughput':
      log(
        `[${label}] ${rate(r.msgsPerSec)} msgs/s, p50 ${(r.latency.p50Us / 1000).toFixed(2)} ms, ` +
          `p99 ${(r.latency.p99Us / 1000).toFixed(2)} ms, server CPU ${r.serverCpuPct.toFixed(0)}%, ` +
          `generator CPU ${r.generatorCpuPct.toFixed(0)}%${r.problems.length > 0 ? `; problems: ${r.problems.slice(0, 3).join('; ')}` : ''}`,
      );
      if (r.timeline !== undefined && r.timeline.length > 1) {
        const w = r.timelineWarmup ?? 0;
        log(`[${label}]   each second: ${r.timeline.slice(0, w).map(rate).join(' ')} | ${r.timeline.slice(w).map(rate).join(' ')} msgs/s (warm-up | measured)`);
      }
      break;
    case 'idle':
      log(`[${label}] ${(r.bytesPerConnection / 1000).toFixed(1)} KB per connection`);
      break;
    case 'preload':
      log(
        `[${label}] preloaded ${r.messages} in ${r.seconds.toFixed(2)} s (${rate(r.msgsPerSec)} acked msgs/s, ` +
          `ack p50 ${(r.latency.p50Us / 1000).toFixed(2)} ms)`,
      );
      break;
    case 'catchup':
      log(`[${label}] catch-up median ${rate(r.median.msgsPerSec)} msgs/s${r.problems.length > 0 ? `; problems: ${r.problems.slice(0, 3).join('; ')}` : ''}`);
      break;
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'scaling') {
    const { runScaling } = await import('./scaling.ts');
    process.exit(await runScaling(argv.slice(1)));
  }
  if (argv[0] === 'soak') {
    const { runSoak } = await import('./soak/main.ts');
    // Exit at once: idle keep-alive sockets and the like must not hold the run open.
    process.exit(await runSoak(argv.slice(1)));
  }
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      systems: { type: 'string' },
      warmup: { type: 'string' },
      measure: { type: 'string' },
      idle: { type: 'string' },
      fanout: { type: 'string' },
      window: { type: 'string' },
      pairs: { type: 'string' },
      catchup: { type: 'string' },
      'parley-entry': { type: 'string' },
      'matrix-clients': { type: 'string' },
      'no-pin': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const quick = values.quick;
  const warmupMs = intOption(values.warmup, quick ? 500 : 2000, 'warmup');
  const measureMs = intOption(values.measure, quick ? 1000 : 5000, 'measure');
  let idleConns = intOption(values.idle, quick ? 1000 : 10_000, 'idle');
  const fanoutSubs = intOption(values.fanout, 100, 'fanout');
  const fanoutWindow = intOption(values.window, 256, 'window');
  if (fanoutWindow < 1) throw new Error('--window must be at least 1');
  const pairCount = intOption(values.pairs, 1000, 'pairs');
  const catchupMessages = intOption(values.catchup, quick ? 20_000 : 100_000, 'catchup');
  if (catchupMessages < 1 || catchupMessages > 100_000) throw new Error('--catchup must be 1-100000');
  const catchupRepeats = quick ? 1 : 3;

  // (h) peering, (m) Matrix and (g) groups run parley nodes only, after the others, with their own tables.
  const onlyList = (values.only ?? [...Object.keys(SCENARIOS), 'h', 'm', 'g'].join(',')).split(',').map((s) => s.trim());
  const withPeering = onlyList.some((s) => s === 'h' || s === 'peering' || s.startsWith('h:'));
  // h:latency, h:throughput, h:line: only those peering shapes.
  const peeringKinds = onlyList.filter((s) => s.startsWith('h:')).map((s) => s.slice(2));
  for (const kind of peeringKinds) if (!['latency', 'throughput', 'line'].includes(kind)) throw new Error(`unknown peering shapes h:${kind}: use h:latency, h:throughput or h:line`);
  const withMatrix = onlyList.includes('m') || onlyList.includes('matrix');
  const matrixClients = intOption(values['matrix-clients'], quick ? 200 : 1000, 'matrix-clients');
  const withGroups = onlyList.includes('g') || onlyList.includes('groups');
  const scenarioList = onlyList.filter((s) => !['h', 'peering', 'm', 'matrix', 'g', 'groups'].includes(s) && !s.startsWith('h:')).map((s) => {
    const sc = SCENARIOS[s.trim()] ?? (Object.values(SCENARIOS).includes(s.trim() as ScenarioName) ? (s.trim() as ScenarioName) : undefined);
    if (sc === undefined) throw new Error(`unknown scenario ${s}; use ${Object.keys(SCENARIOS).join(', ')}, h, m, g`);
    return sc;
  });
  const systemList = (values.systems ?? SYSTEMS.join(',')).split(',').map((s) => {
    const name = s.trim() === 'nats-server' ? 'nats' : s.trim();
    if (!(SYSTEMS as readonly string[]).includes(name)) throw new Error(`unknown system ${s}`);
    return name as SystemName;
  });

  const root = fileURLToPath(new URL('..', import.meta.url));
  const opts: SystemOptions = {
    core: undefined,
    parleyEntry: values['parley-entry'] ?? `${root}src/cli/main.ts`,
    mosquittoBin: findBinary('mosquitto'),
    natsBin: findBinary('nats-server'),
  };
  const cores = cpus().length;
  const pin = !values['no-pin'] && cores >= 2 && hasTaskset();
  const serverCore = pin ? 0 : undefined;
  const genCore = pin ? 1 : undefined;
  const systemOpts: SystemOptions = { ...opts, core: serverCore };

  const systems: SystemName[] = [];
  for (const s of systemList) {
    const why = systemAvailable(s, opts);
    if (why === undefined) systems.push(s);
    else log(`skipping ${s}: ${why}`);
  }
  if (systems.length === 0) throw new Error('no system to measure');

  if (scenarioList.includes('idle')) {
    const fds = hardFdLimit();
    if (fds < idleConns + 256) {
      const n = Math.max(0, fds - 256);
      log(`fd hard limit is ${fds}: idle connections reduced from ${idleConns} to ${n}`);
      idleConns = n;
    }
  }

  const versions: Partial<Record<SystemName, string>> = {};
  for (const s of systems) versions[s] = systemVersion(s, opts);
  const machine: Machine = {
    cpu: cpuModel(),
    cores,
    node: process.version,
    kernel: release(),
    versions,
    pinned: pin
      ? 'Server pinned to core 0 and load generator to core 1 (taskset)'
      : 'Server and load generator not pinned',
    ...(scenarioList.includes('ingest') || scenarioList.includes('catchup') ? { storage: storageFacts(tmpdir()) } : {}),
    ...(scenarioList.includes('ingest') && systems.includes('parley') ? { storeLimit: storeLimit(pin ? 0 : undefined, quick === true) } : {}),
  };
  log(`${machine.cpu}, ${cores} cores, node ${process.version}; ${Object.values(versions).join(', ')}`);
  log(machine.pinned);
  if (machine.storage !== undefined) log(`stores in ${machine.storage}`);

  const titles: Record<ScenarioName, string> = {
    fanout: `(a) fan-out: 1 channel, ${fanoutSubs} subscribers, 1 publisher, ${fanoutWindow} in flight`,
    pairs: `(b) ${pairCount} channels of 2 clients, each publishing to its peer, 32 in flight per client`,
    idle: `(c) ${idleConns} idle connections (2 per channel): server RSS growth per connection`,
    ingest: `(d) durable ingest: publishes acknowledged once stored, ${ACK_WINDOW} unacknowledged per publisher`,
    catchup: `(e) catch-up: a fresh client replays ${catchupMessages} stored 64-byte messages of one channel`,
    'native-fanout': `(f) native protocol fan-out: 1 channel, ${fanoutSubs} subscribers, 1 publisher, ${fanoutWindow} in flight`,
  };
  const tps = ticksPerSecond();
  const runs: RunEntry[] = [];
  const started = Date.now();

  const jobFor = (running: RunningSystem, label: string, fields: Pick<Job, 'scenario' | 'protocol' | 'clients' | 'window'> & Partial<Job>): Job => ({
    label,
    host: running.host,
    port: running.port,
    serverPid: running.pid,
    ticksPerSecond: tps,
    warmupMs,
    measureMs,
    ...fields,
  });

  /** Runs a job and logs its outcome; throws with the server's last output on failure. */
  const generate = async (job: Job, running: RunningSystem): Promise<ScenarioResult> => {
    const reply = await runGenerator(job, genCore);
    if (!reply.ok) {
      const tail = running.output();
      throw new Error(`${reply.error}${tail === '' ? '' : `\n  server output:\n${tail}`}`);
    }
    logResult(job.label, reply.result);
    return reply.result;
  };

  /** One server, one generator run. */
  const runSimple = async (
    scenario: ScenarioName,
    system: SystemName,
    variant: string,
    mode: StoreMode,
    fields: Pick<Job, 'scenario' | 'protocol' | 'clients' | 'window'> & Partial<Job>,
  ): Promise<void> => {
    const label = `${scenario}/${system}${variant === '' ? '' : `/${variant}`}`;
    let running: RunningSystem | undefined;
    try {
      log(`[${label}] starting ${SYSTEM_LABEL[system]}${mode === 'relay' ? '' : ` (${mode})`}`);
      running = await startSystem(system, systemOpts, { mode });
      const result = await generate(jobFor(running, label, fields), running);
      runs.push({ scenario, title: titles[scenario], system, variant, result });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      log(`[${label}] FAILED: ${msg}`);
      runs.push({ scenario, title: titles[scenario], system, variant, error: msg });
    } finally {
      await running?.stop();
    }
  };

  /** (e): preload a store, optionally restart the server on it, then time the catch-ups. */
  const runCatchup = async (system: SystemName, protocol: ProtocolName, mode: StoreMode, restart: boolean): Promise<void> => {
    const variant = `${mode === 'memory' ? 'memory' : system === 'nats' ? 'JetStream file' : 'SQLite'}${restart ? ', restarted' : ''}`;
    const label = `catchup/${system}/${variant.replace(', ', '-')}`;
    const dataDir = makeDataDir(system);
    let running: RunningSystem | undefined;
    try {
      log(`[${label}] starting ${SYSTEM_LABEL[system]} (${mode})`);
      running = await startSystem(system, systemOpts, { mode, dataDir });
      const preload = await generate(
        jobFor(running, label, { scenario: 'preload', protocol, clients: 1, window: ACK_WINDOW, messages: catchupMessages }),
        running,
      );
      const catchup = (on: RunningSystem, repeats: number) =>
        generate(jobFor(on, label, { scenario: 'catchup', protocol, clients: 1, window: 0, messages: catchupMessages, repeats }), on);
      let result: ScenarioResult;
      if (!restart) {
        result = await catchup(running, catchupRepeats);
      } else {
        // One cold catch-up per restart, as many times as the warm ones run: a single
        // cold run swung by a fifth between runs.
        const cold: CatchupRun[] = [];
        let last: ScenarioResult | undefined;
        for (let r = 0; r < catchupRepeats; r++) {
          await running.stop();
          running = undefined;
          log(`[${label}] restarting ${SYSTEM_LABEL[system]} on the same store`);
          running = await startSystem(system, systemOpts, { mode, dataDir });
          last = await catchup(running, 1);
          if (last.kind !== 'catchup') throw new Error('unexpected result kind');
          cold.push(...last.runs);
        }
        if (last?.kind !== 'catchup') throw new Error('unexpected result kind');
        const sorted = [...cold].sort((x, y) => x.msgsPerSec - y.msgsPerSec);
        result = { ...last, runs: cold, median: sorted[Math.floor((sorted.length - 1) / 2)]! };
      }
      if (result.kind !== 'catchup' || preload.kind !== 'preload') throw new Error('unexpected result kind');
      runs.push({ scenario: 'catchup', title: titles.catchup, system, variant, result: { ...result, preload, restarted: restart } });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      log(`[${label}] FAILED: ${msg}`);
      runs.push({ scenario: 'catchup', title: titles.catchup, system, variant, error: msg });
    } finally {
      await running?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  };

  for (const scenario of scenarioList) {
    log(`\n== ${titles[scenario]}`);
    const measured = systems.filter((s) => protocolFor(scenario, s) !== undefined);
    for (const s of systems) {
      if (!measured.includes(s)) log(`(${SYSTEM_LABEL[s]}: not measured in this scenario)`);
    }
    switch (scenario) {
      case 'fanout':
      case 'pairs':
      case 'idle': {
        const clients = { fanout: fanoutSubs, pairs: pairCount, idle: idleConns }[scenario];
        const window = { fanout: fanoutWindow, pairs: 32, idle: 0 }[scenario];
        for (const system of measured) {
          await runSimple(scenario, system, '', 'relay', { scenario, protocol: protocolFor(scenario, system)!, clients, window });
        }
        break;
      }
      case 'ingest':
        for (const shape of INGEST_SHAPES) {
          const variant = `${shape.publishers} pub, ${shape.channels} ch`;
          for (const system of measured) {
            await runSimple(scenario, system, variant, 'durable', {
              scenario: 'ingest',
              protocol: protocolFor(scenario, system)!,
              clients: shape.publishers,
              channels: shape.channels,
              window: ACK_WINDOW,
            });
          }
        }
        break;
      case 'catchup':
        for (const system of measured) {
          const protocol = protocolFor(scenario, system)!;
          await runCatchup(system, protocol, 'durable', false);
          await runCatchup(system, protocol, 'durable', true);
          if (system === 'parley') await runCatchup(system, protocol, 'memory', false);
        }
        break;
      case 'native-fanout':
        for (const system of measured) {
          await runSimple(scenario, system, '', 'relay', { scenario: 'fanout', protocol: 'native', clients: fanoutSubs, window: fanoutWindow });
        }
        if (!scenarioList.includes('fanout')) log('(run with --only a,f to compare with the Mles-mode fan-out)');
        break;
    }
  }

  let peeringTables = '';
  if (withPeering && systems.includes('parley')) {
    log(`\n== (h) peering: latency added by peer hops, and fan-out through a link`);
    // libp2p's stack takes far longer than a WebSocket link to reach its steady rate (its
    // JavaScript is compiled as it runs: a gossip line moved 24k msgs/s over its first 200k
    // messages and 36k over the next, with the nodes' CPU per message down from 14 to 9 µs),
    // so every peering shape warms up for 10 s, WebSocket and gossip alike.
    const peeringWarmupMs = quick ? warmupMs : Math.max(warmupMs, PEERING_WARMUP_MS);
    const peeringRuns = await runPeeringBench({ systemOpts, fanoutSubs, fanoutWindow, warmupMs: peeringWarmupMs, kinds: peeringKinds, log, jobFor, generate });
    peeringTables = `\n${peeringMarkdown(peeringRuns, fanoutSubs, fanoutWindow, peeringWarmupMs)}`;
  }

  let matrixTables = '';
  if (withMatrix && systems.includes('parley')) {
    log(`\n== (m) Matrix gateway: send to long-poll latency beside the native protocol, memory per syncing client`);
    try {
      const result = await runMatrixBench({ systemOpts, clients: matrixClients, events: quick ? 20 : 100, log, ticksPerSecond: ticksPerSecond() });
      matrixTables = `\n${matrixMarkdown(result)}`;
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      log(`[matrix] FAILED: ${error}`);
      matrixTables = `\n### (m) Matrix\n\nfailed: ${error}\n`;
    }
  }

  let groupTables = '';
  if (withGroups && systems.includes('parley')) {
    log(`\n== (g) encrypted groups: from add to every member applying it`);
    const groupRuns = await runGroupBench({ systemOpts, sizes: quick ? [10] : [10, 100], log });
    groupTables = `\n${groupMarkdown(groupRuns)}`;
  }

  const report: Report = {
    date: new Date().toISOString(),
    machine,
    settings: { warmupMs, measureMs, quick, catchupMessages },
    runs,
    targets: computeTargets(runs),
  };
  const out = values.out ?? `${root}bench/results/latest.json`;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  log(`\ndone in ${((Date.now() - started) / 1000).toFixed(0)} s; results in ${out}\n`);
  // The peering tables go with the other scenarios' tables, before the list of targets.
  const tables = markdown(report, systems);
  const targetsAt = tables.indexOf('\nTargets:\n');
  process.stdout.write(
    targetsAt < 0 ? tables + peeringTables + matrixTables + groupTables : `${tables.slice(0, targetsAt)}${peeringTables}${matrixTables}${groupTables}${tables.slice(targetsAt)}`,
  );
}

main().catch((e: unknown) => {
  log(e instanceof Error ? e.message : String(e));
  log(USAGE);
  process.exit(1);
});
