// The test reporter, run on real test files by a real `node --test`: one line per file,
// the failure and the file's output only for a file that failed, one summary line.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './helpers/node-process.ts';

const run = promisify(execFile);

test('the reporter prints a line per file, a failure in full with its output, and a summary', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-reporter-'));
  writeFileSync(
    join(dir, 'good.test.ts'),
    "import { test } from 'node:test';\ntest('one', (t) => { t.diagnostic('measured 7 ms'); });\ntest.skip('later', () => {});\n",
  );
  writeFileSync(
    join(dir, 'bad.test.ts'),
    "import { describe, test } from 'node:test';\nimport assert from 'node:assert/strict';\n" +
      "describe('outer', () => { test('fine', () => { console.log('passing output'); }); test('broken', () => { console.log('seed 1234'); assert.equal(1, 2); }); });\n",
  );
  const outcome = await run(process.execPath, ['--test', `--test-reporter=${join(REPO_ROOT, 'test/reporter.ts')}`, join(dir, 'good.test.ts'), join(dir, 'bad.test.ts')], {
    cwd: dir,
    // Without the runner's own variable, which would make the inner run report to this one.
    env: { ...process.env, NODE_TEST_CONTEXT: undefined, NO_COLOR: '1' },
  }).then(
    () => assert.fail('a failing file must fail the run'),
    (error: { code: number; stdout: string }) => error,
  );
  assert.equal(outcome.code, 1);
  const lines = outcome.stdout.split('\n');
  assert.match(lines.find((l) => l.includes('good.test.ts'))!, /^✔ good\.test\.ts {2}1 passed, 1 skipped {2}\d+\.\d s$/);
  assert.match(lines.find((l) => l.includes('bad.test.ts'))!, /^✖ bad\.test\.ts {2}1 passed, 1 failed {2}\d+\.\d s$/);
  assert.ok(lines.includes('    measured 7 ms'), 'a diagnostic shows under its file');
  assert.ok(lines.includes('    skipped: later'), 'a skipped test is named');
  assert.ok(lines.includes('  ✖ outer > broken'), 'the failing test is named by its path');
  assert.ok(outcome.stdout.includes('1 !== 2'), 'with the assertion that failed');
  assert.ok(outcome.stdout.includes('seed 1234'), "with the failing file's output");
  assert.match(lines.at(-2)!, /^✖ end-to-end tests: 2 passed, 1 skipped, 1 failed in 2 files, \d+\.\d s$/);
  assert.ok(lines.length < 40, `a short report: ${lines.length} lines`);
});
