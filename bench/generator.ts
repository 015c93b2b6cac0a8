// The load generator process: receives one Job over IPC from bench/run.ts, runs it against
// the server and sends back the result. Run alone (`node bench/generator.ts '<job json>'`)
// it prints the result instead, which helps when debugging one scenario.

import type { Job, ScenarioResult } from './scenarios.ts';
import { fanout, idle, pairs } from './scenarios.ts';
import { catchup, ingest, preload } from './store-scenarios.ts';

export type GeneratorReply = { readonly ok: true; readonly result: ScenarioResult } | { readonly ok: false; readonly error: string };

function runScenario(job: Job): Promise<ScenarioResult> {
  switch (job.scenario) {
    case 'fanout':
      return fanout(job);
    case 'pairs':
      return pairs(job);
    case 'idle':
      return idle(job);
    case 'ingest':
      return ingest(job);
    case 'preload':
      return preload(job);
    case 'catchup':
      return catchup(job);
  }
}

async function run(job: Job): Promise<GeneratorReply> {
  try {
    return { ok: true, result: await runScenario(job) };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

if (process.send !== undefined) {
  process.once('message', (msg: unknown) => {
    void run(msg as Job).then((reply) => {
      process.send?.(reply, undefined, {}, () => process.exit(0));
    });
  });
} else {
  const arg = process.argv[2];
  if (arg === undefined) {
    process.stderr.write('usage: node bench/generator.ts <job json>\n');
    process.exit(2);
  }
  const reply = await run(JSON.parse(arg) as Job);
  process.stdout.write(`${JSON.stringify(reply, null, 2)}\n`);
  process.exit(reply.ok ? 0 : 1);
}
