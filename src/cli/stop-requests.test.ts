import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { followLauncher, launcherSignal, listenForStopRequests, type ProcessLike, type StopRequest } from './stop-requests.ts';

/** A process stand-in: events are emitted by the test, kills are recorded. */
function fakeProcess(options: { env?: NodeJS.ProcessEnv; channel?: boolean } = {}) {
  const emitter = new EventEmitter();
  const killed: NodeJS.Signals[] = [];
  const state = { ppid: 100 };
  const proc = Object.assign(emitter, {
    pid: 200,
    env: options.env ?? {},
    channel: options.channel ? { unref() {}, ref() {} } : undefined,
    kill: (_pid: number, signal: NodeJS.Signals) => {
      killed.push(signal);
      return true;
    },
  });
  Object.defineProperty(proc, 'ppid', { get: () => state.ppid });
  return { proc: proc as unknown as ProcessLike, emitter, killed, state };
}

test('launcherSignal reads only a signal name', () => {
  assert.equal(launcherSignal({ signal: 'SIGTERM' }), 'SIGTERM');
  assert.equal(launcherSignal({ signal: 'rm -rf' }), undefined);
  assert.equal(launcherSignal('SIGTERM'), undefined);
  assert.equal(launcherSignal(null), undefined);
});

test('signals and the launcher each ask, with their source; other signals are raised here', () => {
  const { proc, emitter, killed } = fakeProcess({ channel: true });
  const requests: StopRequest[] = [];
  const stop = listenForStopRequests(proc, { signals: ['SIGTERM', 'SIGINT'] }, (r) => requests.push(r));
  emitter.emit('SIGINT', 'SIGINT');
  emitter.emit('message', { signal: 'SIGINT' });
  emitter.emit('message', { signal: 'SIGUSR1' });
  emitter.emit('message', { other: true });
  emitter.emit('disconnect');
  assert.deepEqual(requests, [
    { signal: 'SIGINT', source: 'signal' },
    { signal: 'SIGINT', source: 'launcher' },
    { signal: undefined, source: 'parent exited' },
  ]);
  assert.deepEqual(killed, ['SIGUSR1']);
  stop();
  emitter.emit('SIGTERM', 'SIGTERM');
  assert.equal(requests.length, 3, 'nothing after the listener is removed');
});

test('under npm, a change of parent asks to stop; otherwise the parent is not watched', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const underNpm = fakeProcess({ env: { npm_lifecycle_event: 'npx' } });
  const requests: StopRequest[] = [];
  const stopWatching = listenForStopRequests(underNpm.proc, { signals: [], pollMs: 100 }, (r) => requests.push(r));
  t.mock.timers.tick(300);
  assert.deepEqual(requests, []);
  underNpm.state.ppid = 1;
  t.mock.timers.tick(100);
  t.mock.timers.tick(500);
  assert.deepEqual(requests, [{ signal: undefined, source: 'parent exited' }], 'once');
  stopWatching();

  // Started by hand and left behind on purpose (nohup, setsid): the node goes on.
  const byHand = fakeProcess();
  const none: StopRequest[] = [];
  const stop = listenForStopRequests(byHand.proc, { signals: [], pollMs: 100 }, (r) => none.push(r));
  byHand.state.ppid = 1;
  t.mock.timers.tick(1000);
  assert.deepEqual(none, []);
  stop();
});

test('a short-lived command raises what the launcher passes on, and a hangup when it is gone', () => {
  const { proc, emitter, killed } = fakeProcess({ channel: true });
  followLauncher(proc);
  emitter.emit('message', { signal: 'SIGTERM' });
  emitter.emit('disconnect');
  assert.deepEqual(killed, ['SIGTERM', 'SIGHUP']);
  const alone = fakeProcess();
  followLauncher(alone.proc);
  assert.equal(alone.emitter.listenerCount('message'), 0, 'no launcher, nothing to follow');
});
