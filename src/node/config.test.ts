import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULTS, defaultConfig } from './config.ts';

test('overrides change their fields and keep the rest of the section', () => {
  const config = defaultConfig({ store: { backend: 'memory' }, tls: { domains: ['a.example'] } });
  assert.equal(config.store.backend, 'memory');
  assert.equal(config.store.retainCount, DEFAULTS.retainCount);
  assert.deepEqual(config.tls.domains, ['a.example']);
  assert.equal(config.tls.port, DEFAULTS.acmePort);
  assert.deepEqual(config.http.listen, [DEFAULTS.listen]);
  assert.equal(defaultConfig().store.backend, 'sqlite');
});
