// The bundled chat page (web/) in a real browser against a real node, in both modes:
// Mles (?mode=mles): two people talk, a later joiner sees the history, refusals and
// drops show in the status, and other clients' frames (MlesTalk's binary, hostile text)
// display safely. Native (the default, the client SDK bundled by `npm run build:web`):
// the same conversation, a native and an Mles page on one channel, and a node restart
// the page rides out without showing anything twice.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { MlesTestClient } from './helpers/mles-client.ts';
import type { Received } from './helpers/mles-client.ts';
import { REPO_ROOT, startNode } from './helpers/node-process.ts';
import type { NodeProcess } from './helpers/node-process.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip =
  !existsSync(CHROMIUM) && !process.env.CI
    ? `${CHROMIUM} is not installed (install Debian's chromium; in CI this test must run)`
    : false;
const WAIT_MS = 10_000;
/** The Mles mode of the page. */
const MLES = '/?mode=mles';

describe('web chat page', { skip }, () => {
  let node: NodeProcess;
  let browser: Browser;

  before(async () => {
    // The page imports the SDK bundle: build it from the current sources.
    execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: REPO_ROOT, stdio: 'inherit' });
    [node, browser] = await Promise.all([
      startNode(),
      chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--no-sandbox',
          '--headless',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
        ],
      }),
    ]);
  });

  after(async () => {
    await browser?.close();
    await node?.stop();
  });

  /** Script errors and console errors (CSP violations among them) per page. */
  const pageErrors = new Map<Page, string[]>();

  /** Opens the page in a fresh browser profile. */
  async function open(path: string, baseUrl = node.url): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    const errors: string[] = [];
    pageErrors.set(page, errors);
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(new URL(path, baseUrl).href);
    return page;
  }

  /** Closes the pages, failing if any of them logged an error. */
  async function done(...pages: Page[]): Promise<void> {
    for (const page of pages) {
      await page.context().close();
      assert.deepEqual(pageErrors.get(page), [], `errors on ${page.url()}`);
    }
  }

  async function join(page: Page, uid: string, channel?: string): Promise<void> {
    await page.fill('#uid', uid);
    if (channel !== undefined) await page.fill('#channel', channel);
    await page.click('#join');
    await page.locator('#status').filter({ hasText: /^Joined #/ }).waitFor();
    await page.locator('#message:enabled').waitFor();
  }

  async function send(page: Page, message: string): Promise<void> {
    await page.fill('#message', message);
    await page.click('#send');
  }

  /** The first frame an Mles client received whose UTF-8 text satisfies `match` (bounded wait). */
  async function frameMatching(client: MlesTestClient, match: (data: string) => boolean): Promise<Received> {
    for (let count = 1; ; count++) {
      const frames = await client.waitFor(count, WAIT_MS);
      const found = frames.find((frame) => match(frame.data.toString('utf8')));
      if (found !== undefined) return found;
    }
  }

  function item(page: Page, text: string | RegExp) {
    return page.locator('#messages li').filter({ hasText: text });
  }

  async function items(page: Page): Promise<string[]> {
    return page.locator('#messages li').allTextContents();
  }

  test('two people talk; a third joining later sees the history', async () => {
    const alice = await open(`${MLES}#browser-talk`);
    assert.equal(await alice.inputValue('#channel'), 'browser-talk', 'channel from the hash');
    await join(alice, 'alice');
    assert.equal(await alice.textContent('#status'), 'Joined #browser-talk as alice');

    const bob = await open(`${MLES}&channel=browser-talk`);
    assert.equal(await bob.inputValue('#channel'), 'browser-talk', 'channel from the query');
    await join(bob, 'bob');
    await item(bob, 'alice joined').waitFor();

    await send(alice, 'hello from alice');
    await item(bob, 'alice: hello from alice').waitFor();
    // Shown locally at once, marked as our own; the node sends no echo.
    await alice.locator('#messages li.own', { hasText: 'hello from alice' }).waitFor();
    assert.equal(await alice.inputValue('#message'), '');

    await send(bob, 'hi alice');
    await item(alice, 'bob: hi alice').waitFor();

    const carol = await open(`${MLES}#browser-talk`);
    await join(carol, 'carol');
    await item(carol, 'bob: hi alice').waitFor();
    assert.deepEqual(await items(carol), [
      'alice joined',
      'bob joined',
      'alice: hello from alice',
      'bob: hi alice',
    ]);
    await send(carol, 'hi both');
    await item(alice, 'carol: hi both').waitFor();
    await item(bob, 'carol: hi both').waitFor();

    // Screenshot for a human look (outside the repository).
    if (process.env.CHAT_SCREENSHOT) await alice.screenshot({ path: process.env.CHAT_SCREENSHOT });

    await done(alice, bob, carol);
  });

  test('rejoining shows your own earlier messages as yours', async () => {
    const first = await open(`${MLES}#browser-rejoin`);
    await join(first, 'dora');
    await send(first, 'note to self');
    // Another member proves the node has the frame before dora leaves.
    const watcher = await open(`${MLES}#browser-rejoin`);
    await join(watcher, 'watcher');
    await item(watcher, 'dora: note to self').waitFor();
    await first.click('#leave');
    await first.locator('#status', { hasText: 'Left #browser-rejoin' }).waitFor();
    await done(first);

    const again = await open(`${MLES}#browser-rejoin`);
    await join(again, 'dora');
    await again.locator('#messages li.own', { hasText: 'note to self' }).waitFor();
    await item(again, 'dora (you) joined').waitFor();
    await done(watcher, again);
  });

  test('a duplicate uid is refused with 4409 and can pick another name', async () => {
    const first = await open(`${MLES}#browser-dup`);
    await join(first, 'erin');
    const second = await open(`${MLES}#browser-dup`);
    await second.fill('#uid', 'erin');
    await second.click('#join');
    await second.locator('#status', { hasText: 'closed 4409: uid already joined to channel' }).waitFor();
    assert.equal(await second.getAttribute('#status', 'data-state'), 'refused');
    // A refusal is final for that header: no reconnecting, the form is usable again.
    assert.ok(await second.isEnabled('#uid'));
    assert.ok(await second.isDisabled('#send'));
    await join(second, 'erin2');
    await send(second, 'renamed');
    await item(first, 'erin2: renamed').waitFor();
    await done(first, second);
  });

  test('frames from other clients display safely', async () => {
    const page = await open(`${MLES}#browser-foreign`);
    await join(page, 'fay');
    const other = await MlesTestClient.join(node.wsUrl, { uid: 'mlestalk', channel: 'browser-foreign' });
    try {
      // MlesTalk-style encrypted CBOR: not ours to read.
      other.send(Buffer.from([0xa3, 0x63, 0x75, 0x69, 0x64, 0xff, 0x00, 0x01]));
      await item(page, '[binary frame, 8 bytes]').waitFor();
      // Markup from a peer is text, never HTML.
      const hostile = '<img src=x onerror="document.title=\'pwned\'"><b>bold</b>';
      other.send(Buffer.from(JSON.stringify({ uid: '<i>mallory</i>', channel: 'browser-foreign', message: hostile })));
      await item(page, `<i>mallory</i>: ${hostile}`).waitFor();
      assert.equal(await page.locator('#messages img, #messages b, #messages i').count(), 0);
      assert.notEqual(await page.title(), 'pwned');
    } finally {
      await other.close();
    }
    // The page's message went to the other client as a binary JSON frame.
    const listener = await MlesTestClient.join(node.wsUrl, { uid: 'listener', channel: 'browser-foreign' });
    try {
      await send(page, 'binary json ✓');
      // The history replay may still be arriving: look for the frame, not the count.
      const frame = await frameMatching(listener, (data) => data.includes('binary json'));
      assert.ok(frame.binary, 'sent as a binary frame');
      assert.deepEqual(JSON.parse(frame.data.toString('utf8')), {
        uid: 'fay',
        channel: 'browser-foreign',
        message: 'binary json ✓',
      });
    } finally {
      await listener.close();
    }
    await done(page);
  });

  test('after an unexpected close the page reconnects and shows nothing twice', async () => {
    // A small frame limit lets the page provoke a 1009 close, which is not a refusal.
    const small = await startNode(['--max-message', '2000']);
    try {
      const gus = await open(`${MLES}#browser-drop`, small.url);
      await join(gus, 'gus');
      const hal = await open(`${MLES}#browser-drop`, small.url);
      await join(hal, 'hal');
      await send(hal, 'before the drop');
      await item(gus, 'hal: before the drop').waitFor();

      await send(gus, 'x'.repeat(3000));
      await gus.locator('#status', { hasText: /^closed 1009: .*; reconnecting in \d+ s/ }).waitFor();
      await gus.locator('#status', { hasText: 'Joined #browser-drop as gus' }).waitFor();

      await send(hal, 'after the drop');
      await item(gus, 'hal: after the drop').waitFor();
      await send(gus, 'back again');
      await item(hal, 'gus: back again').waitFor();
      const shown = await items(gus);
      assert.equal(shown.filter((text) => text === 'hal: before the drop').length, 1, shown.join('\n'));
      assert.equal(shown.filter((text) => text === 'hal joined').length, 1, shown.join('\n'));
      assert.equal(shown.filter((text) => text.startsWith('gus (you) joined')).length, 0, shown.join('\n'));
      await done(gus, hal);
    } finally {
      await small.stop();
    }
  });
  // ---- native mode (the default) ----

  test('native: the default mode; two people talk, a later joiner sees the stored messages', async () => {
    const alice = await open('/#native-talk');
    assert.equal(await alice.inputValue('#mode'), 'native', 'native is the default');
    await join(alice, 'alice');
    assert.equal(await alice.textContent('#status'), 'Joined #native-talk as alice');
    const bob = await open('/?channel=native-talk');
    await join(bob, 'bob');

    await send(alice, 'hello from alice');
    await item(bob, 'alice: hello from alice').waitFor();
    // Shown at once as our own, dimmed until the node's ack, then not shown again.
    await alice.locator('#messages li.own:not(.pending)', { hasText: 'hello from alice' }).waitFor();
    assert.equal(await alice.inputValue('#message'), '');
    await send(bob, 'hi alice');
    await item(alice, 'bob: hi alice').waitFor();

    const carol = await open('/#native-talk');
    await join(carol, 'carol');
    await item(carol, 'bob: hi alice').waitFor();
    // No join lines: the native protocol has no join headers.
    assert.deepEqual(await items(carol), ['alice: hello from alice', 'bob: hi alice']);
    await send(carol, 'hi both');
    await item(alice, 'carol: hi both').waitFor();
    await item(bob, 'carol: hi both').waitFor();
    assert.deepEqual(await items(alice), ['alice (you): hello from alice', 'bob: hi alice', 'carol: hi both']);
    await done(alice, bob, carol);
  });

  test('native: leaving and joining again shows only what is new, your own messages as yours', async () => {
    const dora = await open('/#native-rejoin');
    await join(dora, 'dora');
    await send(dora, 'note to self');
    await dora.locator('#messages li.own:not(.pending)', { hasText: 'note to self' }).waitFor();
    await dora.click('#leave');
    await dora.locator('#status', { hasText: 'Left #native-rejoin' }).waitFor();
    const other = await open('/#native-rejoin');
    await join(other, 'otto');
    await send(other, 'while dora was away');
    await join(dora, 'dora');
    await item(dora, 'otto: while dora was away').waitFor();
    assert.deepEqual(await items(dora), ['dora (you): note to self', 'otto: while dora was away']);

    const fresh = await open('/#native-rejoin');
    await join(fresh, 'dora');
    await fresh.locator('#messages li.own', { hasText: 'note to self' }).waitFor();
    await done(dora, other, fresh);
  });

  test('a native page and an Mles page on one channel see each other', async () => {
    const native = await open('/#mixed-pages');
    await join(native, 'nora');
    const mles = await open(`${MLES}#mixed-pages`);
    assert.equal(await mles.inputValue('#mode'), 'mles');
    await join(mles, 'mick');

    await send(native, 'from the native page');
    await item(mles, 'nora: from the native page').waitFor();
    await send(mles, 'from the mles page');
    await item(native, 'mick: from the mles page').waitFor();
    // A plain Mles client too, in both directions.
    const other = await MlesTestClient.join(node.wsUrl, { uid: 'websocat', channel: 'mixed-pages' });
    try {
      other.send(Buffer.from(JSON.stringify({ uid: 'websocat', channel: 'mixed-pages', message: 'from a raw client' })));
      await item(native, 'websocat: from a raw client').waitFor();
      await item(mles, 'websocat: from a raw client').waitFor();
      await send(native, 'to everyone');
      const frame = await frameMatching(other, (data) => data.includes('to everyone'));
      assert.ok(frame.binary);
      assert.deepEqual(JSON.parse(frame.data.toString('utf8')), { uid: 'nora', channel: 'mixed-pages', message: 'to everyone' });
    } finally {
      await other.close();
    }
    await item(mles, 'nora: to everyone').waitFor();
    const nativeItems = await items(native);
    assert.equal(nativeItems.filter((text) => text === 'mick: from the mles page').length, 1, nativeItems.join('\n'));
    await done(native, mles);
  });

  test('native: the page rides out a node restart and shows nothing twice', async () => {
    const first = await startNode();
    let second: NodeProcess | undefined;
    try {
      const ida = await open('/#native-restart', first.url);
      await join(ida, 'ida');
      const jon = await open('/#native-restart', first.url);
      await join(jon, 'jon');
      await send(jon, 'before the restart');
      await item(ida, 'jon: before the restart').waitFor();

      // The status line changes on every reconnect attempt while the node is down, so the
      // 1001 it shows first can be gone by the time a busy machine looks: every status
      // the page shows is recorded from before the stop.
      await ida.evaluate(() => {
        const status = document.querySelector('#status')!;
        const seen: string[] = [];
        (window as unknown as { statuses: string[] }).statuses = seen;
        new MutationObserver(() => seen.push(status.textContent ?? '')).observe(status, { childList: true, characterData: true, subtree: true });
      });
      assert.equal(await first.stop('SIGTERM'), 0);
      await ida.waitForFunction(() =>
        (window as unknown as { statuses: string[] }).statuses.some((text) => /^closed 1001: .*; reconnecting in \d+ s/.test(text)),
      );
      assert.ok(await ida.isDisabled('#send'));
      second = await startNode(['--listen', `127.0.0.1:${first.port}`, '--data', first.dataDir]);
      await ida.locator('#status', { hasText: 'Joined #native-restart as ida' }).waitFor({ timeout: 40_000 });
      await jon.locator('#status', { hasText: 'Joined #native-restart as jon' }).waitFor({ timeout: 40_000 });

      await send(jon, 'after the restart');
      await item(ida, 'jon: after the restart').waitFor();
      await send(ida, 'back again');
      await item(jon, 'ida: back again').waitFor();
      assert.deepEqual(await items(ida), ['jon: before the restart', 'jon: after the restart', 'ida (you): back again']);
      // While the node was down the browser logged each refused attempt; nothing else.
      for (const page of [ida, jon]) {
        const errors = pageErrors.get(page) ?? [];
        pageErrors.set(page, errors.filter((error) => !/^WebSocket connection to .* failed: .*ERR_CONNECTION_REFUSED/.test(error)));
      }
      await done(ida, jon);
    } finally {
      await second?.stop();
      await first.stop();
    }
  });
});
