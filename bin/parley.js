#!/usr/bin/env node
// Entry point of the `parley` command. The sources are TypeScript, which Node.js 24 runs
// by stripping the types; an installed package carries them compiled to lib/, since Node
// strips no types under node_modules. On an older Node (a system Node 20 running a global
// install) the command runs itself again on the Node 24 it depends on (the `node` package)
// and passes on arguments, stdio, signals and the exit status.
//
// Plain JavaScript that old Node versions run: it is what tells them apart.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(import.meta.url);
const root = dirname(dirname(here));
const installed = here.split(sep).includes('node_modules');
const entry = installed ? join(root, 'lib', 'cli', 'main.js') : join(root, 'src', 'cli', 'main.ts');
const major = Number(process.versions.node.split('.')[0]);

if (!existsSync(entry)) {
  process.stderr.write(`parley: ${entry} is missing: this package was not built (npm pack builds lib/). Reinstall it from a packed tarball or the registry.\n`);
  process.exit(1);
}

if (major >= 24) {
  await import(pathToFileURL(entry).href);
} else {
  const node = bundledNode();
  if (node === undefined) {
    process.stderr.write(
      `parley needs Node.js 24 or newer, but this is ${process.version}, and the Node.js 24 that parley depends on\n` +
        '(the npm package "node") is not installed beside it. Reinstall parley (npm install -g parley),\n' +
        'or install Node.js 24.\n',
    );
    process.exit(1);
  }
  relaunch(node, entry);
}

/** The binary of the `node` package this one depends on, where module resolution finds it. */
function bundledNode() {
  let pkg;
  try {
    pkg = createRequire(import.meta.url).resolve('node/package.json');
  } catch {
    return undefined;
  }
  for (const name of ['node', 'node.exe']) {
    const bin = join(dirname(pkg), 'bin', name);
    if (existsSync(bin)) return bin;
  }
  return undefined;
}

/**
 * Runs the command on `node` and stands in for it until it ends. Signals go to it over an
 * IPC channel, not as signals: a Ctrl-C or a systemd stop reaches both processes already,
 * and a second copy would read as "stop now" rather than "stop gracefully". The channel also
 * closes when this process dies, however it dies, which tells the command to stop. The
 * command gets --disable-sigusr1: a SIGUSR1 would otherwise open an inspector any local
 * user could attach to, and this process takes the signal over for the same reason.
 */
function relaunch(node, main) {
  process.title = 'parley';
  const child = spawn(node, ['--disable-sigusr1', main, ...process.argv.slice(2)], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
  const forwarded = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR2', 'SIGUSR1'];
  const forward = (signal) => {
    if (child.connected) child.send({ signal }, () => {});
  };
  for (const signal of forwarded) process.on(signal, forward);

  // Started by npm (npx, npm start), whose shell a supervisor may kill without killing this
  // process: then the process that started it is gone, and the command should stop.
  if (process.env.npm_lifecycle_event !== undefined) {
    const parent = process.ppid;
    const watch = setInterval(() => {
      if (process.ppid === parent) return;
      clearInterval(watch);
      if (child.connected) child.disconnect();
    }, 250);
    watch.unref();
  }

  child.on('error', (error) => {
    process.stderr.write(`parley: cannot run ${node}: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal === null) process.exit(code ?? 1);
    // Ends the same way, so whoever waits for this process sees what happened.
    for (const s of forwarded) process.removeListener(s, forward);
    process.kill(process.pid, signal);
  });
}
