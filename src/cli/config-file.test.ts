import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigFileError, nearestName, parseConfigText, settingsToArgs, type OptionSpec } from './config-file.ts';

const OPTIONS: Record<string, OptionSpec> = {
  listen: { type: 'string', multiple: true },
  data: { type: 'string' },
  domains: { type: 'string', short: 'd', multiple: true },
  memory: { type: 'boolean' },
  'no-mdns': { type: 'boolean' },
  config: { type: 'string' },
};

function parse(text: string) {
  return parseConfigText(text, 'parley.conf', OPTIONS, ['config']);
}

test('name = value lines, comments, blank lines, repeats, booleans and quotes', () => {
  const text = [
    '# a node',
    '',
    '  listen = 0.0.0.0:8080',
    'listen=[::1]:8080',
    'data = "/srv/parley data "',
    'memory = true',
    'no-mdns = false',
    'domains = chat.example.org   ',
    '\t# indented comment',
  ].join('\r\n');
  assert.deepEqual(parse(text), [
    { name: 'listen', value: '0.0.0.0:8080', line: 3 },
    { name: 'listen', value: '[::1]:8080', line: 4 },
    { name: 'data', value: '/srv/parley data ', line: 5 },
    { name: 'memory', value: true, line: 6 },
    { name: 'no-mdns', value: false, line: 7 },
    { name: 'domains', value: 'chat.example.org', line: 8 },
  ]);
  assert.deepEqual(parse('data = /a#b'), [{ name: 'data', value: '/a#b', line: 1 }], 'a # inside a value is kept');
  assert.deepEqual(parse('\uFEFFdata = x'), [{ name: 'data', value: 'x', line: 1 }], 'a byte order mark is not part of the name');
});

test('every mistake names file:line and what to write', () => {
  const cases: Array<[string, RegExp]> = [
    ['data', /^parley\.conf:1: expected "name = value", got "data"$/],
    ['\n\nlisen = :80', /^parley\.conf:3: unknown setting "lisen"; did you mean "listen"\?/],
    ['wibble = 1', /^parley\.conf:1: unknown setting "wibble" \(the settings are/],
    ['--data = x', /^parley\.conf:1: write the name without dashes: "data = \.\.\."$/],
    ['d = a.example', /^parley\.conf:1: "d" is the short form of --domains: write "domains = \.\.\."$/],
    ['config = other.conf', /^parley\.conf:1: --config cannot be set in a config file$/],
    ['data = a\ndata = b', /^parley\.conf:2: data is set again \(first on line 1\); only repeatable/],
    ['memory = yes', /^parley\.conf:1: memory is on or off: write "memory = true" or "memory = false", not "yes"$/],
    ['data =', /^parley\.conf:1: data needs a value: "data = VALUE"$/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parse(text), (error: unknown) => error instanceof ConfigFileError && expected.test(error.message), text);
  }
});

test('settings become flags: --name=value, a true boolean bare, a false one left out', () => {
  assert.deepEqual(
    settingsToArgs([
      { name: 'listen', value: '-1', line: 1 },
      { name: 'memory', value: true, line: 2 },
      { name: 'no-mdns', value: false, line: 3 },
    ]),
    ['--listen=-1', '--memory'],
  );
});

test('nearestName suggests close names only', () => {
  assert.equal(nearestName('peeer', ['peer', 'peers-file']), 'peer');
  assert.equal(nearestName('retain-cont', ['retain-count', 'retain-age']), 'retain-count');
  assert.equal(nearestName('zzzzzz', ['peer', 'data']), undefined);
});
