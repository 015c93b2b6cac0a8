// A parley entry point that runs the CLI under the V8 CPU profiler, for finding where the
// server's time goes in a scenario:
//
//   npm run bench -- --only e --systems parley --parley-entry bench/profile-entry.ts
//
// Each server the bench starts writes bench/results/profiles/parley-<pid>.cpuprofile when
// it stops (open it in Chrome DevTools' Performance panel or VS Code). The profiler costs
// throughput (sampling every 200 µs), so compare shares of time, not rates.

import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const dir = new URL('./results/profiles/', import.meta.url);
mkdirSync(dir, { recursive: true });
const out = new URL(`parley-${process.pid}.cpuprofile`, dir);

const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 200 });
session.post('Profiler.start');

let written = false;
const write = (): void => {
  if (written) return;
  written = true;
  // An in-process session answers synchronously, so this completes before exit.
  session.post('Profiler.stop', (error, result) => {
    if (error === null) writeFileSync(out, JSON.stringify(result.profile));
  });
};
// parley's own SIGTERM handler closes the node and exits; write first.
process.prependListener('SIGTERM', write);
process.on('exit', write);

await import('../src/cli/main.ts');
