import { connectNats } from './src/jetstream/connect.ts';
import { JetStreamLog } from './src/jetstream/jetstream-log.ts';
import { Hub } from './src/hub/hub.ts';
import { MemoryStore } from './src/store/memory-store.ts';
const s = await connectNats({ servers: ['nats://127.0.0.1:24222'], stream: 'PERF', replicas: 1, credsFile: undefined, tlsCa: undefined, tlsCert: undefined, tlsKey: undefined, publishTimeoutMs: 5000 });
const log = new JetStreamLog({ connection: s.connection, manager: s.manager, stream: 'PERF', publishTimeoutMs: 5000 });
await log.ensureStream(1);
const hub = new Hub({ store: new MemoryStore({ nodeId: 'x' }), log });
await log.start(hub);
const N = 100000;
const t = performance.now();
let n = 0; let sent = 0;
await new Promise<void>((resolve) => {
  const top = () => { while (sent - n < 1024 && sent < N) { hub.publish({ channel: 'c' + (sent % 4), uid: 'u', binary: false, payload: new Uint8Array(64), cid: 'c' + sent }, undefined, () => { if (++n === N) resolve(); else if (sent - n < 512) top(); }); sent++; } };
  top();
});
console.log('acked ingest', Math.round(N / ((performance.now() - t) / 1000)), 'msg/s');
await s.manager.streams.delete('PERF');
await log.close();
