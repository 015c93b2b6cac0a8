import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TurnFrames } from './turn-frames.ts';

test('indexes each distinct consecutive frame once and slices runs from one joined buffer', () => {
  const log = new TurnFrames();
  const [a, b, c] = [Buffer.from('aa'), Buffer.from('bbb'), Buffer.from('c')];
  assert.equal(log.indexOf(a), 0);
  assert.equal(log.indexOf(a), 0, 'the same frame for the next recipient');
  assert.equal(log.indexOf(b), 1);
  assert.equal(log.indexOf(c), 2);
  assert.equal(log.slice(0, 3).toString(), 'aabbbc');
  assert.equal(log.slice(1, 3).toString(), 'bbbc');
  assert.equal(log.slice(0, 3), log.slice(0, 3), 'queues asking for the same run share one buffer');
  assert.equal(log.indexOf(a), 3, 'a frame seen earlier but not last is a new entry');
  assert.equal(log.slice(2, 4).toString(), 'caa');
});

test('clear starts a new turn', () => {
  const log = new TurnFrames();
  log.indexOf(Buffer.from('x'));
  log.clear();
  assert.equal(log.indexOf(Buffer.from('y')), 0);
  assert.equal(log.slice(0, 1).toString(), 'y');
});
