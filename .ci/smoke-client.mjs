// A real client's check of a running node: publishes over HTTP, then joins the channel
// as an Mles client and must get that message in its history. Exits 1 with what failed.
// Usage: node smoke-client.mjs http://HOST:PORT/   (Node 22 or newer: global WebSocket)

const [base] = process.argv.slice(2);
if (base === undefined) throw new Error('usage: smoke-client.mjs http://HOST:PORT/');
const channel = `smoke-${process.pid}`;
const text = `hello from the smoke check ${Date.now()}`;

const posted = await fetch(new URL(`/v1/channels/${channel}/messages?uid=alice`, base), {
  method: 'POST',
  headers: { 'content-type': 'text/plain' },
  body: text,
});
if (posted.status !== 201) throw new Error(`POST answered ${posted.status}: ${await posted.text()}`);

const received = await new Promise((resolve, reject) => {
  const socket = new WebSocket(base.replace(/^http/, 'ws'), 'mles-websocket');
  const timer = setTimeout(() => reject(new Error('no history frame within 10 s')), 10_000);
  socket.onopen = () => socket.send(JSON.stringify({ uid: 'bob', channel }));
  socket.onerror = () => reject(new Error(`cannot connect to ${base}`));
  socket.onmessage = (event) => {
    clearTimeout(timer);
    socket.close();
    resolve(String(event.data));
  };
});
if (received !== text) throw new Error(`expected "${text}", got "${received}"`);
console.log(`smoke: an Mles client got the message published over HTTP (${channel})`);
