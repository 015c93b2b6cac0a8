// A Matrix web client in headless Chromium: matrix-js-sdk bundled for the browser, on a
// page served from another origin than the node (as a web client usually is, so CORS is
// on the way), registers, logs in, syncs, creates a room and talks with a user whose
// client runs in Node.js.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { MatrixClient } from 'matrix-js-sdk';
import { nextEvent, register, roomAppears, startClient, type Account } from '../helpers/matrix.ts';
import { REPO_ROOT, startNode, type NodeProcess } from '../helpers/node-process.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = !existsSync(CHROMIUM) && !process.env.CI ? `${CHROMIUM} is not installed (install Debian's chromium; in CI this test must run)` : false;

const PAGE = `<!doctype html><meta charset="utf-8"><title>matrix</title>
<script type="module">
  import * as sdk from './sdk.js';
  window.sdk = sdk;
  window.ready = true;
</script>`;

describe('a Matrix web client in Chromium', { skip }, () => {
  let node: NodeProcess;
  let browser: Browser;
  let site: Server;
  let page: Page;
  let bob: Account;
  let bobClient: MatrixClient;
  let base: string;

  before(async () => {
    // The SDK for the browser, built from the installed package (its crypto's WebAssembly is only fetched if crypto starts).
    const dir = mkdtempSync(join(tmpdir(), 'parley-matrix-web-'));
    writeFileSync(join(dir, 'entry.ts'), "export { createClient, ClientEvent, RoomEvent } from 'matrix-js-sdk';\n");
    await build({ entryPoints: [join(dir, 'entry.ts')], bundle: true, format: 'esm', platform: 'browser', outfile: join(dir, 'sdk.js'), nodePaths: [join(REPO_ROOT, 'node_modules')], logLevel: 'error' });
    const files: Record<string, [string, string]> = { '/': ['text/html', PAGE], '/sdk.js': ['text/javascript', readFileSync(join(dir, 'sdk.js'), 'utf8')] };
    site = createServer((req, res) => {
      const file = files[req.url ?? '/'];
      if (file === undefined) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': file[0] }).end(file[1]);
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    [node, browser] = await Promise.all([
      startNode(['--matrix', '--server-name', 'web.test', '--matrix-registration', 'open', '--matrix-login-rate', '0']),
      chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] }),
    ]);
    base = node.url.replace(/\/$/, '');
    bob = await register(base, 'bob');
    bobClient = await startClient(base, bob);
    page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
    await page.goto(`http://127.0.0.1:${(site.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, undefined, { timeout: 10_000 }).catch((error: Error) => {
      throw new Error(`the page did not load the SDK: ${errors.join('; ') || error.message}`);
    });
  });

  after(async () => {
    bobClient?.stopClient();
    await browser?.close();
    await node?.stop();
    site?.close();
  });

  test('registers, logs in, syncs, creates a room, invites, and messages go both ways', async () => {
    const roomId = await page.evaluate(
      async ({ base, bob }) => {
        type Sdk = typeof import('matrix-js-sdk');
        const sdk = (window as unknown as { sdk: Sdk }).sdk;
        const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, getChild() { return quiet; } };
        const anonymous = sdk.createClient({ baseUrl: base, logger: quiet });
        await anonymous.registerRequest({ username: 'carol', password: 'carol password', auth: { type: 'm.login.dummy' } });
        const login = await anonymous.loginRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'carol' }, password: 'carol password' });
        const client = sdk.createClient({ baseUrl: base, accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id, logger: quiet });
        const prepared = new Promise<void>((resolve) => client.on(sdk.ClientEvent.Sync, (state) => state === 'PREPARED' && resolve()));
        await client.startClient({ initialSyncLimit: 10 });
        await prepared;
        const { room_id } = await client.createRoom({ name: 'From the browser', invite: [bob] });
        (window as unknown as { client: typeof client }).client = client;
        return room_id;
      },
      { base, bob: bob.userId },
    );
    await roomAppears(bobClient, roomId, 'invite');
    await bobClient.joinRoom(roomId);
    const fromBrowser = nextEvent(bobClient, (e) => e.getContent().body === 'hello from Chromium');
    const reply = page.evaluate(
      async ({ roomId }) => {
        type Sdk = typeof import('matrix-js-sdk');
        const { sdk, client } = window as unknown as { sdk: Sdk; client: import('matrix-js-sdk').MatrixClient };
        const got = new Promise<string>((resolve) =>
          client.on(sdk.RoomEvent.Timeline, (event) => {
            if (event.getRoomId() === roomId && event.getContent().body === 'hello from Node.js') resolve(event.getSender()!);
          }),
        );
        await client.sendTextMessage(roomId, 'hello from Chromium');
        return got;
      },
      { roomId },
    );
    assert.equal((await fromBrowser).getSender(), '@carol:web.test');
    await bobClient.sendTextMessage(roomId, 'hello from Node.js');
    assert.equal(await reply, bob.userId);
    const name = await page.evaluate((roomId) => (window as unknown as { client: import('matrix-js-sdk').MatrixClient }).client.getRoom(roomId)?.name, roomId);
    assert.equal(name, 'From the browser');
  });
});
