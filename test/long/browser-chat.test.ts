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
import { MlesTestClient } from '../helpers/mles-client.ts';
import type { Received } from '../helpers/mles-client.ts';
import { REPO_ROOT, startNode } from '../helpers/node-process.ts';
import type { NodeProcess } from '../helpers/node-process.ts';

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

  /** The lines of the conversation as read, without their times, the history/live marker and notes. */
  async function items(page: Page): Promise<string[]> {
    return page.locator('#messages li:not(.divider, .note)').evaluateAll((lines) =>
      lines.map((line) => {
        const copy = line.cloneNode(true) as HTMLElement;
        copy.querySelector('time')?.remove();
        return (copy.textContent ?? '').trim();
      }),
    );
  }

  /** Every line of the conversation as shown, times replaced by "HH:MM" or "-" when absent, markers and notes included. */
  async function lines(page: Page): Promise<string[]> {
    return page.locator('#messages li').evaluateAll((all) =>
      all.map((line) => {
        const copy = line.cloneNode(true) as HTMLElement;
        const time = copy.querySelector('time');
        const when = time === null ? '-' : /^\d{4}-\d\d-\d\dT/.test(time.dateTime) ? 'HH:MM' : 'bad time';
        time?.remove();
        return line.classList.contains('divider') ? `--- ${copy.textContent}` : `${when} ${(copy.textContent ?? '').trim()}`;
      }),
    );
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
    // Mles history says nothing of when: replayed lines have no time, a marker ends them,
    // and what comes live has the time it came.
    assert.deepEqual(await lines(carol), [
      '- alice joined',
      '- bob joined',
      '- alice: hello from alice',
      '- bob: hi alice',
      '--- Earlier messages above · new messages below',
      'HH:MM carol (you): hi both',
    ]);
    assert.deepEqual((await lines(alice)).slice(0, 3), ['--- No earlier messages in #browser-talk', 'HH:MM alice (you): hello from alice', 'HH:MM bob: hi alice']);

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
    await second.locator('#status', { hasText: 'The name “erin” is already in #browser-dup' }).waitFor();
    assert.match((await second.textContent('#status')) ?? '', /Choose another name and join again\.$/);
    assert.equal(await second.getAttribute('#status', 'data-state'), 'refused');
    // The code and the node's reason stay at hand, for whoever debugs.
    assert.equal(await second.getAttribute('#status', 'title'), 'closed 4409: uid already joined to channel');
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
      await gus.locator('#status', { hasText: /^A message was too large for the node .* Reconnecting in \d+ s/ }).waitFor();
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
    await carol.locator('#messages li.divider').waitFor();
    // Stored messages with the time they were sent, a marker, then what comes live.
    assert.deepEqual(await lines(carol), [
      'HH:MM alice: hello from alice',
      'HH:MM bob: hi alice',
      '--- Earlier messages above · new messages below',
    ]);
    const sentAt = await carol.locator('#messages li.message time').first().getAttribute('datetime');
    assert.ok(Math.abs(Date.parse(sentAt ?? '') - Date.now()) < 5 * 60_000, `a stored message's time: ${sentAt}`);
    assert.equal(await carol.textContent('#members'), '3 here: alice, bob, carol');
    await item(alice, 'carol joined').waitFor();
    await alice.locator('#members', { hasText: '3 here: alice, bob, carol' }).waitFor();
    await send(carol, 'hi both');
    await item(alice, 'carol: hi both').waitFor();
    await item(bob, 'carol: hi both').waitFor();
    // An Mles member is in the channel too.
    const mles = await MlesTestClient.join(node.wsUrl, { uid: 'mick', channel: 'native-talk' });
    await item(alice, 'mick joined').waitFor();
    await alice.locator('#members', { hasText: '4 here: alice, bob, carol, mick' }).waitFor();
    await mles.close();
    await item(alice, 'mick left').waitFor();
    await bob.click('#leave');
    await item(alice, 'bob left').waitFor();
    await alice.locator('#members', { hasText: '2 here: alice, carol' }).waitFor();
    assert.deepEqual(await lines(alice), [
      '--- No earlier messages in #native-talk',
      'HH:MM bob joined',
      'HH:MM alice (you): hello from alice',
      'HH:MM bob: hi alice',
      'HH:MM carol joined',
      'HH:MM carol: hi both',
      'HH:MM mick joined',
      'HH:MM mick left',
      'HH:MM bob left',
    ]);
    await done(alice, bob, carol);
  });

  test('native: one name in two tabs is allowed, and the second tab says so in words', async () => {
    const first = await open('/#native-twice');
    await join(first, 'tess');
    const second = await open('/#native-twice');
    await join(second, 'tess');
    await item(second, 'The name “tess” is also in #native-twice from another tab or device').waitFor();
    assert.match((await second.locator('#messages li.note').textContent()) ?? '', /To talk as someone else, leave and join with another name\.$/);
    assert.equal(await second.textContent('#members'), '1 here: tess');
    await send(second, 'from the second tab');
    await item(first, 'tess (you): from the second tab').waitFor();
    // The first tab is not told: nobody arrived.
    assert.equal(await first.locator('#messages li.event').count(), 0);
    await done(first, second);
  });

  test('the name is remembered per tab: a second tab starts empty, a reload keeps it', async () => {
    const context = await browser.newContext();
    try {
      const tab = await context.newPage();
      tab.setDefaultTimeout(WAIT_MS);
      await tab.goto(new URL('/#per-tab', node.url).href);
      await join(tab, 'uma');
      const other = await context.newPage();
      other.setDefaultTimeout(WAIT_MS);
      await other.goto(new URL('/#per-tab', node.url).href);
      assert.equal(await other.inputValue('#uid'), '', 'another tab is another person');
      await join(other, 'vic');
      await tab.reload();
      assert.equal(await tab.inputValue('#uid'), 'uma');
      await other.reload();
      assert.equal(await other.inputValue('#uid'), 'vic');
    } finally {
      await context.close();
    }
  });

  test('at 390 px wide, joining folds the form into one line and leaves the screen to the conversation', async () => {
    const page = await open('/#narrow');
    await page.setViewportSize({ width: 390, height: 844 });
    const before = (await page.locator('#join-form').boundingBox())!;
    assert.ok(before.height > 844 / 4, `the form is tall before joining (${before.height} px)`);
    await join(page, 'wes');
    const form = (await page.locator('#join-form').boundingBox())!;
    const messages = (await page.locator('#messages').boundingBox())!;
    assert.ok(form.height < 60, `the joined form is one line (${form.height} px)`);
    assert.ok(messages.height > 844 / 2, `the messages take most of the screen (${messages.height} px)`);
    for (const hidden of ['#name-rules', '#mode-hint', '#uid', '#channel', '#mode']) assert.equal(await page.locator(hidden).isVisible(), false, hidden);
    assert.equal(await page.textContent('#joined-as'), 'wes in #narrow');
    assert.ok(await page.locator('#leave').isVisible());
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    assert.equal(overflow, false, 'nothing wider than the screen');
    await page.click('#leave');
    assert.ok(await page.locator('#uid').isVisible(), 'leaving brings the form back');
    await done(page);
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

  test('the page rides out a node restart: compose while offline, pending until sent, Retry now, nothing shown twice', async () => {
    const first = await startNode();
    let second: NodeProcess | undefined;
    try {
      const ida = await open('/#native-restart', first.url);
      // The width at which the status line was cut short.
      await ida.setViewportSize({ width: 1000, height: 700 });
      await join(ida, 'ida');
      const jon = await open('/#native-restart', first.url);
      await join(jon, 'jon');
      const kim = await open(`${MLES}#native-restart`, first.url);
      await join(kim, 'kim');
      await send(jon, 'before the restart');
      await item(ida, 'jon: before the restart').waitFor();
      await item(kim, 'jon: before the restart').waitFor();
      await item(ida, 'kim joined').waitFor();

      // The status line changes on every reconnect attempt while the node is down, so the
      // words it shows first can be gone by the time a busy machine looks: every status
      // the page shows is recorded from before the stop.
      for (const page of [ida, kim]) {
        await page.evaluate(() => {
          const status = document.querySelector('#status')!;
          const seen: string[] = [];
          (window as unknown as { statuses: string[] }).statuses = seen;
          new MutationObserver(() => seen.push(status.textContent ?? '')).observe(status, { childList: true, characterData: true, subtree: true });
        });
      }
      assert.equal(await first.stop('SIGTERM'), 0);
      for (const page of [ida, kim]) {
        await page.waitForFunction(() =>
          (window as unknown as { statuses: string[] }).statuses.some((text) =>
            /^The node went away \(it is restarting or shutting down\)\. Reconnecting in \d+ s; messages typed meanwhile are sent then\.$/.test(text),
          ),
        );
      }
      // Still joined: the box is open, says it is offline, and what is typed waits.
      assert.match((await ida.getAttribute('#message', 'placeholder')) ?? '', /^Message #native-restart \(offline: sent when reconnected\)$/);
      await send(ida, 'typed while the node was away');
      await send(kim, 'mles, typed while away');
      await ida.locator('#messages li.own.pending', { hasText: 'typed while the node was away (waiting to send)' }).waitFor();
      await kim.locator('#messages li.own.pending', { hasText: 'mles, typed while away (waiting to send)' }).waitFor();
      assert.equal(await ida.inputValue('#message'), '', 'the box is cleared for the next message');
      // The whole status is visible at 1000 px, and a button retries at once.
      await ida.locator('#retry:visible').waitFor();
      const fits = await ida.locator('#status').evaluate((status) => {
        const box = status.getBoundingClientRect();
        return status.scrollWidth <= status.clientWidth && box.right <= window.innerWidth && getComputedStyle(status).textOverflow !== 'ellipsis';
      });
      assert.ok(fits, 'the status line is shown whole');
      await kim.evaluate(() => ((window as unknown as { statuses: string[] }).statuses.length = 0));
      await kim.click('#retry');
      await kim.waitForFunction(() => (window as unknown as { statuses: string[] }).statuses.includes('Connecting to #native-restart'));

      second = await startNode(['--listen', `127.0.0.1:${first.port}`, '--data', first.dataDir]);
      await ida.locator('#status', { hasText: 'Joined #native-restart as ida' }).waitFor({ timeout: 40_000 });
      await jon.locator('#status', { hasText: 'Joined #native-restart as jon' }).waitFor({ timeout: 40_000 });
      await kim.locator('#status', { hasText: 'Joined #native-restart as kim' }).waitFor({ timeout: 40_000 });
      assert.equal(await ida.locator('#retry').isVisible(), false);

      // Sent once reconnected, once each, and no longer pending.
      await item(jon, 'ida: typed while the node was away').waitFor({ timeout: 40_000 });
      await item(jon, 'kim: mles, typed while away').waitFor({ timeout: 40_000 });
      await ida.locator('#messages li.own:not(.pending)', { hasText: 'typed while the node was away' }).waitFor();
      await kim.locator('#messages li.own:not(.pending)', { hasText: 'mles, typed while away' }).waitFor();
      assert.equal(await ida.locator('#messages .state').count(), 0);
      await send(jon, 'after the restart');
      await item(ida, 'jon: after the restart').waitFor();
      await item(kim, 'jon: after the restart').waitFor();
      await send(ida, 'back again');
      await item(jon, 'ida: back again').waitFor();
      await item(kim, 'ida: back again').waitFor();
      // Those who were there before the restart came back quietly.
      assert.deepEqual(await items(ida), [
        'jon joined',
        'kim joined',
        'jon: before the restart',
        'ida (you): typed while the node was away',
        'kim: mles, typed while away',
        'jon: after the restart',
        'ida (you): back again',
      ]);
      const kimItems = await items(kim);
      for (const text of ['jon: before the restart', 'kim (you): mles, typed while away', 'ida: typed while the node was away', 'jon: after the restart']) {
        assert.equal(kimItems.filter((line) => line === text).length, 1, `${text}\n${kimItems.join('\n')}`);
      }
      assert.equal((await items(jon)).filter((line) => line === 'ida: typed while the node was away').length, 1);
      // A node stopping is not everyone leaving.
      for (const page of [ida, jon]) {
        const shown = await items(page);
        assert.ok(!shown.some((line) => line.endsWith(' left')), shown.join('\n'));
      }
      // While the node was down the browser logged each refused attempt; nothing else.
      for (const page of [ida, jon, kim]) {
        const errors = pageErrors.get(page) ?? [];
        pageErrors.set(page, errors.filter((error) => !/^WebSocket connection to .* failed: .*ERR_CONNECTION_REFUSED/.test(error)));
      }
      await done(ida, jon, kim);
    } finally {
      await second?.stop();
      await first.stop();
    }
  });
});
