// Builds the browser bundle of the client SDK: src/client/index.ts -> web/dist/parley-client.js
// (ESM, minified, with a source map), which the chat page imports. Run by `npm run build:web`
// and, through `prepare`, by `npm install` and `npm ci`.
//
// Plain JavaScript on purpose: `npm ci --omit=dev` runs `prepare` too, without the project's
// pinned Node 24 (a devDependency) and without esbuild. With --if-available a missing
// esbuild is a notice, not a failed install; the page's Mles mode works without the bundle.
//
// cbor-x is taken in its no-eval build: its default browser build probes `new Function`,
// which a Content-Security-Policy without 'unsafe-eval' (the chat page's) reports as a
// violation.

import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const ifAvailable = process.argv.includes('--if-available');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch (error) {
  if (!ifAvailable || error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  process.stderr.write(
    'parley: esbuild is not installed (a production install?), so web/dist/parley-client.js was not built.\n' +
      "The chat page's native mode needs it: npm install, then npm run build:web. Its Mles mode (?mode=mles) works without.\n",
  );
  process.exit(0);
}

await esbuild.build({
  absWorkingDir: root,
  entryPoints: ['src/client/index.ts'],
  outfile: 'web/dist/parley-client.js',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  alias: { 'cbor-x': 'cbor-x/index-no-eval' },
  logLevel: 'warning',
});
