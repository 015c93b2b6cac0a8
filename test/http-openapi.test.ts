// The OpenAPI description at /v1/openapi.json against a real node: it is valid JSON,
// it describes exactly the routes the node serves (a route added without a description
// fails here), each described operation is answered, and the README's curl examples run
// as written.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { servedPaths } from '../src/http/routes.ts';
import { defaultConfig } from '../src/node/config.ts';
import { httpRoutes } from '../src/node/node.ts';
import { MemoryStore } from '../src/store/memory-store.ts';
import { REPO_ROOT, startNode, type NodeProcess } from './helpers/node-process.ts';

interface Operation {
  readonly parameters?: Array<{ name: string; in: string; required?: boolean }>;
  readonly responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}
interface Schema {
  readonly $ref?: string;
  readonly required?: string[];
  readonly properties?: Record<string, unknown>;
}
interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, Operation | unknown>>;
  components: { schemas: Record<string, Schema> };
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** "METHOD /path" of every operation of the document. */
function operations(document: OpenApi): string[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((key) => METHODS.includes(key))
      .map((method) => `${method.toUpperCase()} ${path}`),
  );
}

let node: NodeProcess;
let document: OpenApi;

before(async () => {
  node = await startNode();
  const response = await fetch(new URL('/v1/openapi.json', node.url));
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  document = JSON.parse(await response.text()) as OpenApi;
});
after(() => node.stop());

/** Operations that need --p2p. */
const P2P_ONLY = ['/v1/p2p/find', '/v1/directory'];

describe('/v1/openapi.json', () => {
  test('is an OpenAPI 3.1 document', () => {
    assert.match(document.openapi, /^3\.1\.\d+$/);
  });

  test('describes every route the node serves, and nothing it does not', () => {
    // The route table the node is built with (node.ts), and its own /healthz and /metrics.
    const routes = httpRoutes({
      hub: { publish: () => assert.fail('not called') },
      store: new MemoryStore({ nodeId: '0'.repeat(32) }),
      catchUp: () => Promise.resolve(),
      config: defaultConfig(),
      nodeId: '0'.repeat(32),
      p2p: () => undefined,
    });
    const served = servedPaths(routes).flatMap(({ path, methods }) => methods.filter((m) => m !== 'HEAD').map((m) => `${m} ${path}`));
    assert.deepEqual([...new Set(served)].sort(), operations(document).sort());
  });

  test('each described operation is answered by the node, not by the static files or a 405', async () => {
    for (const operation of operations(document)) {
      const [method, path] = operation.split(' ') as [string, string];
      const url = new URL(path.replace('{channel}', 'openapi-check'), node.url);
      if (method === 'POST') url.searchParams.set('uid', 'checker');
      const response = await fetch(url, { method, ...(method === 'POST' ? { body: 'hi', headers: { 'content-type': 'text/plain' } } : {}) });
      await response.arrayBuffer();
      // The peer-to-peer operations answer 503 on this node, which runs without --p2p.
      if (P2P_ONLY.includes(path)) assert.equal(response.status, 503, operation);
      else assert.ok(response.status < 300, `${operation}: ${response.status}`);
      assert.ok(Object.keys((document.paths[path]![method.toLowerCase()] as Operation).responses).includes(String(response.status)), `${operation} answers ${response.status}, which is described`);
    }
  });
});

/** The README's curl examples: each command, and the answer shown below it (if one is). */
function readmeCurlExamples(): Array<{ command: string; shown: string | undefined }> {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const examples: Array<{ command: string; shown: string | undefined }> = [];
  for (const [, block] of readme.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const lines = block!.split('\n').map((line) => line.trim());
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i]!.startsWith('curl ')) continue;
      let command = lines[i]!;
      while (command.endsWith('\\')) command = `${command.slice(0, -1)} ${lines[++i]!}`;
      const shown: string[] = [];
      while (lines[i + 1]?.startsWith('#')) shown.push(lines[++i]!.replace(/^#\s*/, ''));
      examples.push({ command, shown: shown.length > 0 ? shown.join('') : undefined });
    }
  }
  return examples;
}

/** The schema a JSON answer should have, per the document. */
function answerSchema(path: string, method: string, status: string): Schema | undefined {
  const template = Object.keys(document.paths).find((p) => new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path));
  if (template === undefined) return undefined;
  const operation = document.paths[template]![method] as Operation | undefined;
  const schema = operation?.responses[status]?.content?.['application/json']?.schema;
  return schema?.$ref === undefined ? schema : document.components.schemas[schema.$ref.split('/').pop()!];
}

describe("the README's curl examples", () => {
  let curl = true;
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
  } catch {
    curl = false;
  }
  const skip = !curl && process.env.CI === undefined ? 'curl is not installed' : false;

  test('run as written against a real node, and answer as the README and the description say', { skip }, async () => {
    assert.ok(curl, 'CI needs curl');
    const examples = readmeCurlExamples();
    assert.ok(examples.length >= 5, `found ${examples.length} curl examples`);
    // The channels and messages the examples read, as the README shows them.
    const post = async (channel: string, uid: string, body: BodyInit, type: string) => {
      const response = await fetch(new URL(`/v1/channels/${channel}/messages?uid=${uid}`, node.url), { method: 'POST', body, headers: { 'content-type': type } });
      assert.equal(response.status, 201);
    };
    await post('lobby', 'alice', 'hello', 'text/plain');
    await post('lobby', 'bob', new Uint8Array([0xff, 0x00, 0x80]), 'application/octet-stream');
    await post('news', 'carol', 'headline', 'text/plain');
    await post('weather', 'dave', 'sunny', 'text/plain');

    const cwd = mkdtempSync(join(tmpdir(), 'parley-readme-'));
    writeFileSync(join(cwd, 'photo.jpg'), new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46]));
    const base = node.url.replace(/\/$/, '');
    for (const { command, shown } of examples) {
      assert.match(command, /http:\/\/127\.0\.0\.1:8080\//, `an example for a node on the default address: ${command}`);
      const runnable = command.replaceAll('http://127.0.0.1:8080', base).replace(/^curl /, "curl -sS -w '\\n%{http_code}' ");
      const output = execFileSync('sh', ['-c', runnable], { cwd, encoding: 'utf8', timeout: 30_000 });
      const [body, status] = [output.slice(0, output.lastIndexOf('\n')), output.slice(output.lastIndexOf('\n') + 1)];
      assert.match(status, /^2\d\d$/, `${command}\n${body}`);
      const answer = JSON.parse(body) as Record<string, unknown>;
      if (shown !== undefined) {
        const expected = JSON.parse(shown.replaceAll('…', '')) as Record<string, unknown>;
        assert.deepEqual(Object.keys(answer).sort(), Object.keys(expected).sort(), `${command}: the answer has the fields the README shows`);
      }
      const url = new URL(/'(http[^']+)'/.exec(runnable)![1]!);
      const schema = answerSchema(url.pathname, command.includes('--data') ? 'post' : 'get', status);
      assert.ok(schema !== undefined, `${command}: ${status} is described`);
      for (const field of schema.required ?? []) assert.ok(field in answer, `${command}: required ${field}`);
      for (const field of Object.keys(answer)) assert.ok(field in (schema.properties ?? {}), `${command}: ${field} is described`);
    }
  });
});
