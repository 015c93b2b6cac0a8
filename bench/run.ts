// `npm run bench`: measures parley against nats-server and mosquitto on this machine.
// For each scenario and system it starts a fresh server (pinned to core 0 when possible),
// runs the load generator in its own process (pinned to core 1), and collects the results
// into bench/results/latest.json and a markdown table on stdout. Progress goes to stderr.
//
//   npm run bench -- [--quick] [--only a,b,c] [--systems parley,nats,mosquitto]
//                    [--warmup MS] [--measure MS] [--idle N] [--parley-entry FILE]
//                    [--no-pin] [--out FILE]

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { GeneratorReply } from './generator.ts';
import type { Machine, Report, RunEntry } from './report.ts';
import { computeTargets, markdown, rate, SYSTEM_LABEL } from './report.ts';
import type { Job, ScenarioName } from './scenarios.ts';
import type { RunningSystem, SystemName, SystemOptions } from './systems.ts';
import { hasTaskset, startSystem, SYSTEMS, systemAvailable, systemVersion, wrapCommand } from './systems.ts';

const USAGE = `usage: npm run bench -- [options]
  --quick               short smoke run (0.5 s warm-up + 1 s, 1000 idle connections)
  --only a,b,c          scenarios: a = fan-out, b = pairs, c = idle connections
  --systems LIST        parley,nats,mosquitto (default: all three)
  --warmup MS           warm-up per throughput scenario (default 2000)
  --measure MS          measured window (default 5000)
  --idle N              idle connections for (c) (default 10000)
  --fanout N            subscribers for (a) (default 100)
  --pairs N             channels of 2 for (b) (default 1000)
  --parley-entry FILE   parley CLI entry (default src/cli/main.ts)
  --no-pin              do not pin server and generator to separate cores
  --out FILE            JSON output (default bench/results/latest.json)
`;

const SCENARIOS: Record<string, ScenarioName> = { a: 'fanout', b: 'pairs', c: 'idle' };

function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

function intOption(v: string | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1] !== undefined) return m[1].trim();
  } catch {
    // fall through
  }
  return cpus()[0]?.model ?? 'unknown CPU';
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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      systems: { type: 'string' },
      warmup: { type: 'string' },
      measure: { type: 'string' },
      idle: { type: 'string' },
      fanout: { type: 'string' },
      pairs: { type: 'string' },
      'parley-entry': { type: 'string' },
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
  const pairCount = intOption(values.pairs, 1000, 'pairs');

  const scenarioList = (values.only ?? 'a,b,c').split(',').map((s) => {
    const sc = SCENARIOS[s.trim()] ?? (Object.values(SCENARIOS).includes(s.trim() as ScenarioName) ? (s.trim() as ScenarioName) : undefined);
    if (sc === undefined) throw new Error(`unknown scenario ${s}; use a, b, c`);
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
  };
  log(`${machine.cpu}, ${cores} cores, node ${process.version}; ${Object.values(versions).join(', ')}`);
  log(machine.pinned);

  const titles: Record<ScenarioName, string> = {
    fanout: `(a) fan-out: 1 channel, ${fanoutSubs} subscribers, 1 publisher, 256 in flight`,
    pairs: `(b) ${pairCount} channels of 2 clients, each publishing to its peer, 32 in flight per client`,
    idle: `(c) ${idleConns} idle connections (2 per channel): server RSS growth per connection`,
  };
  const clientsOf: Record<ScenarioName, number> = { fanout: fanoutSubs, pairs: pairCount, idle: idleConns };
  const windowOf: Record<ScenarioName, number> = { fanout: 256, pairs: 32, idle: 0 };
  const tps = ticksPerSecond();
  const runs: RunEntry[] = [];
  const started = Date.now();

  for (const scenario of scenarioList) {
    log(`\n== ${titles[scenario]}`);
    for (const system of systems) {
      const label = `${scenario}/${system}`;
      let running: RunningSystem | undefined;
      try {
        log(`[${label}] starting ${SYSTEM_LABEL[system]}`);
        running = await startSystem(system, systemOpts);
        const job: Job = {
          scenario,
          label,
          protocol: running.protocol,
          host: running.host,
          port: running.port,
          serverPid: running.pid,
          ticksPerSecond: tps,
          warmupMs,
          measureMs,
          clients: clientsOf[scenario],
          window: windowOf[scenario],
        };
        const reply = await runGenerator(job, genCore);
        if (reply.ok) {
          runs.push({ scenario, title: titles[scenario], system, result: reply.result });
          const r = reply.result;
          if (r.kind === 'throughput') {
            log(
              `[${label}] ${rate(r.msgsPerSec)} msgs/s, p50 ${(r.latency.p50Us / 1000).toFixed(2)} ms, ` +
                `p99 ${(r.latency.p99Us / 1000).toFixed(2)} ms, server CPU ${r.serverCpuPct.toFixed(0)}%, ` +
                `generator CPU ${r.generatorCpuPct.toFixed(0)}%`,
            );
          } else {
            log(`[${label}] ${(r.bytesPerConnection / 1000).toFixed(1)} KB per connection`);
          }
        } else {
          const tail = running.output();
          log(`[${label}] FAILED: ${reply.error}${tail === '' ? '' : `\n  server output:\n${tail}`}`);
          runs.push({ scenario, title: titles[scenario], system, error: reply.error });
        }
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        log(`[${label}] FAILED: ${msg}`);
        runs.push({ scenario, title: titles[scenario], system, error: msg });
      } finally {
        await running?.stop();
      }
    }
  }

  const report: Report = {
    date: new Date().toISOString(),
    machine,
    settings: { warmupMs, measureMs, quick },
    runs,
    targets: computeTargets(runs),
  };
  const out = values.out ?? `${root}bench/results/latest.json`;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  log(`\ndone in ${((Date.now() - started) / 1000).toFixed(0)} s; results in ${out}\n`);
  process.stdout.write(markdown(report, systems));
}

main().catch((e: unknown) => {
  log(e instanceof Error ? e.message : String(e));
  log(USAGE);
  process.exit(1);
});
