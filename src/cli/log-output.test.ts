import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { LogOutput } from './log-output.ts';

const failure = (code: string) => Object.assign(new Error(`write ${code}`), { code });

test('a log output that went away (EIO, as after a terminal hangup) goes quiet: no throw, nothing retried at exit', (t) => {
  const fd = openSync('/dev/null', 'w');
  t.after(() => closeSync(fd));
  const output = new LogOutput(fd);
  output.stream.emit('error', failure('EIO'));
  assert.equal(output.stream.write('{"msg":"after the hangup"}\n'), true);
  output.stream.flushSync(); // returns: what pino flushes at exit is not retried forever
});

test('other write errors still surface', (t) => {
  const fd = openSync('/dev/null', 'w');
  t.after(() => closeSync(fd));
  const output = new LogOutput(fd);
  assert.throws(() => output.stream.emit('error', failure('EACCES')), /EACCES/);
});

test('a hangup leaves an output that is not a terminal alone', (t) => {
  const fd = openSync('/dev/null', 'w');
  t.after(() => closeSync(fd));
  const output = new LogOutput(fd);
  const write = output.stream.write;
  output.hangup();
  assert.equal(output.stream.write, write);
});
