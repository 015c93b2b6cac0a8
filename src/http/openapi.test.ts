import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHANNELS_PARAMETERS, KNOWN_PARAMETERS } from './api.ts';
import { describeApi } from './openapi.ts';
import { PUBLISH_PARAMETERS } from './publish.ts';

const document = describeApi({ version: '1.2.3', maxMessage: 1024 }) as {
  openapi: string;
  info: { version: string };
  paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }> }>>;
  components: { schemas: Record<string, unknown> };
};

test('an OpenAPI 3.1 document that survives JSON', () => {
  assert.equal(document.openapi, '3.1.0');
  assert.equal(document.info.version, '1.2.3');
  assert.deepEqual(JSON.parse(JSON.stringify(document)), document);
});

test("every $ref points at a schema of the document's", () => {
  const refs = [...JSON.stringify(document).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
  assert.ok(refs.length > 0);
  for (const name of refs) assert.ok(name in document.components.schemas, name);
});

test('the query parameters are those the routes take, no more, no fewer', () => {
  const query = (path: string, method: string) => (document.paths[path]![method]!.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
  assert.deepEqual(query('/v1/channels/{channel}/messages', 'get'), [...KNOWN_PARAMETERS]);
  assert.deepEqual(query('/v1/channels/{channel}/messages', 'post'), [...PUBLISH_PARAMETERS]);
  assert.deepEqual(query('/v1/channels', 'get'), [...CHANNELS_PARAMETERS]);
});

test('the publish limit in the description is the node’s', () => {
  assert.match(JSON.stringify(document.paths['/v1/channels/{channel}/messages']!.post), /at most 1024 bytes/);
});
