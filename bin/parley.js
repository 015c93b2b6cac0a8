#!/usr/bin/env node
// Entry point of the `parley` command. The sources are TypeScript run by Node's own
// type stripping, which needs Node.js 24 or newer: say so plainly on older ones.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `parley needs Node.js 24 or newer, but this is ${process.version}.\n` +
      'Run it through npm in the project (npm start, npx parley ...), which uses the pinned Node 24,\n' +
      'or install Node.js 24.\n',
  );
  process.exit(1);
}
await import('../src/cli/main.ts');
